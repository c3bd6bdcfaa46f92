import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/server.js';

const env = useTestServer();

/** Every URL the page loads by itself: script src, link href, img src, CSS url(...) and @import. */
function assetUrls(html: string): string[] {
  const urls: string[] = [];
  for (const m of html.matchAll(/<(script|link|img|iframe|source)\b[^>]*?\s(?:src|href)\s*=\s*["']([^"']+)["']/gi)) urls.push(m[2]!);
  for (const m of html.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']/gi)) urls.push((m[1] ?? m[2])!);
  return urls;
}

describe('/docs', () => {
  it('serves an HTML API reference that loads /openapi.json', async () => {
    const res = await env.server.fetch('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain('/openapi.json');
  });

  it('loads every asset from keysync itself, so the page works with no internet', async () => {
    const html = await (await env.server.fetch('/docs')).text();
    const urls = assetUrls(html);
    expect(urls.length).toBeGreaterThan(0);
    const scripts = [...html.matchAll(/<script\b[^>]*\ssrc\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    const base = new URL('/docs', env.server.url);
    for (const url of urls) expect(new URL(url, base).origin, url).toBe(base.origin);
    for (const src of scripts) {
      const asset = await fetch(new URL(src, base));
      expect(asset.status, src).toBe(200);
      expect(asset.headers.get('content-type'), src).toMatch(/javascript/);
      const body = await asset.text();
      // The Scalar reference bundle (it mounts itself on the page's #app element).
      expect(body.length).toBeGreaterThan(100_000);
      expect(body).toContain('createApiReference');
    }
  });
});
