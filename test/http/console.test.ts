/**
 * /console: the web console's files, served by keysync itself with a strict
 * CSP; the committed bundle is what console/src builds to (drift check).
 */
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildConsole, CONSOLE_BUNDLE } from '../../scripts/build-console.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();

/** min+gzip bytes of the console's script. */
const CONSOLE_BUDGET_BYTES = 12 * 1024;

describe('/console', () => {
  it('serves the page, its stylesheet and its script from the server, with a CSP that allows nothing else', async () => {
    const redirect = await env.server.fetch('/console', { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/console/');
    const page = await env.server.fetch('/console/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="./console.js">');
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    const js = await env.server.fetch('/console/console.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await env.server.fetch('/console/style.css')).headers.get('content-type')).toMatch(/^text\/css/);
    expect((await env.server.fetch('/console/nope.js')).status).toBe(404);
    expect((await env.server.fetch('/console/../package.json')).status).toBe(404);
  });

  it('serves the bundle that console/src builds to, within its size budget', async () => {
    const [committed, fresh] = await Promise.all([readFile(CONSOLE_BUNDLE, 'utf8'), buildConsole()]);
    expect(committed === fresh, 'console/public/console.js is stale: run `npm run console:build`').toBe(true);
    const gz = gzipSync(fresh).length;
    console.log(`console bundle: ${fresh.length} bytes minified, ${gz} bytes min+gzip (budget ${CONSOLE_BUDGET_BYTES})`);
    expect(gz).toBeLessThanOrEqual(CONSOLE_BUDGET_BYTES);
  });
});
