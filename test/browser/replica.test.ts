/**
 * The offline-first example (examples/browser) in real Chromium against a
 * real server, through a TCP proxy the test controls: a reload shows the
 * IndexedDB replica at once and resumes with `since`; writes made while the
 * page was offline arrive after it reconnects (at once on `online`); a
 * connection that silently stops forwarding is replaced; two tabs run one
 * sync loop and both show every change. Prints write -> DOM latency.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeysyncOptions } from '../../src/keysync.js';
import { buildExample } from '../../examples/browser/build.js';
import { newStore, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { describeInChromium, launchChromium, outputPath } from './support/chromium.js';
import { HTML, JS, servePages, type PageServer } from './support/pages.js';

const HEARTBEAT_MS = 400;
const options: KeysyncOptions = { limits: { heartbeatMs: HEARTBEAT_MS } };
let pages: PageServer;
beforeAll(async () => {
  pages = await servePages();
  // Read by useTestServer's beforeAll, which runs after this one.
  options.corsOrigins = [pages.origin];
});
const env = useTestServer(options);

describeInChromium('the offline-first example in Chromium', () => {
  let browser: Browser;
  let proxy: TcpProxy;
  beforeAll(async () => {
    browser = await launchChromium();
    const page = await buildExample();
    pages.set('/', HTML, page.html);
    pages.set('/main.js', JS, page.js);
    proxy = await startTcpProxy(Number(new URL(env.server.url).port));
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await pages?.close();
  });

  const url = (storeId: string) => `${pages.origin}/?server=${encodeURIComponent(proxy.url)}&store=${storeId}`;
  const row = (page: Page, key: string) => page.locator(`tr[data-key="${key}"]`);
  const stateOf = (page: Page) => page.locator('#state').getAttribute('data-state');
  /** Handshake bodies the page sends, in order. */
  const handshakes = (page: Page) => {
    const bodies: Array<Record<string, unknown>> = [];
    page.on('request', (req) => {
      if (req.method() === 'POST' && /\/sync$/.test(new URL(req.url()).pathname)) bodies.push(req.postDataJSON());
    });
    return bodies;
  };
  async function open(context: BrowserContext, storeId: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(url(storeId));
    return page;
  }
  const live = (page: Page) => expect.poll(() => stateOf(page), { timeout: 15_000 }).toBe('live');

  it('shows the replica after a reload before the network answers, and resumes with since', async () => {
    const storeId = await newStore(env.server);
    for (const k of ['a', 'b', 'c']) await put(env.server, storeId, k, { k });
    const context = await browser.newContext();
    const page = await open(context, storeId);
    const sent = handshakes(page);
    await live(page);
    await expect.poll(() => row(page, 'c').count()).toBe(1);

    // Reload with the server unreachable: the table comes from IndexedDB alone.
    proxy.refuse();
    await page.reload();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(3);
    expect(await row(page, 'b').locator('td.value').textContent()).toBe('{"k":"b"}');
    proxy.accept();
    await live(page);
    const after = sent.slice(1);
    expect(after.length).toBeGreaterThan(0);
    for (const body of after) {
      expect(body).toHaveProperty('since', 3);
      expect(body).not.toHaveProperty('have');
    }
    await page.screenshot({ path: await outputPath('example.png') });
    await context.close();
  });

  it('gets the writes made while it was offline, at once when the browser is back online', async () => {
    const storeId = await newStore(env.server);
    const context = await browser.newContext();
    const page = await open(context, storeId);
    await live(page);
    await context.setOffline(true);
    proxy.refuse();
    proxy.cut();
    await expect.poll(() => stateOf(page), { timeout: 15_000 }).toBe('reconnecting');
    for (const k of ['x', 'y', 'z']) await put(env.server, storeId, k, k);
    // Let the backoff grow, so only the `online` event explains a quick return.
    await new Promise((r) => setTimeout(r, 3000));
    proxy.accept();
    const back = Date.now();
    await context.setOffline(false);
    await expect.poll(() => page.locator('tbody tr').count(), { timeout: 15_000 }).toBe(3);
    console.log(`offline writes shown ${Date.now() - back} ms after the browser went back online`);
    await context.close();
  });

  it('replaces a connection that silently stops forwarding, losing nothing', async () => {
    const storeId = await newStore(env.server);
    const context = await browser.newContext();
    const page = await open(context, storeId);
    await live(page);
    proxy.silence();
    const silenced = Date.now();
    for (const k of ['p', 'q', 'r']) await put(env.server, storeId, k, k);
    await expect.poll(() => page.locator('tbody tr').count(), { timeout: 20_000 }).toBe(3);
    const shown = Date.now() - silenced;
    console.log(`silently dead connection (heartbeat ${HEARTBEAT_MS} ms): writes shown ${shown} ms after the network went silent`);
    expect(shown).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS);
    await context.close();
  });

  it('runs one sync loop for two tabs, both show every change, and the second takes over when the first closes', async () => {
    const storeId = await newStore(env.server);
    const context = await browser.newContext();
    const first = await open(context, storeId);
    await live(first);
    const second = await open(context, storeId);
    await expect.poll(() => second.locator('#role').textContent()).toMatch(/follower/);
    expect(await first.locator('#role').textContent()).toMatch(/leader/);
    const feedsBefore = env.server.keysync.hub.stats().subscribers;

    await put(env.server, storeId, 'shared', 1);
    await expect.poll(() => row(second, 'shared').count()).toBe(1);
    await expect.poll(() => row(first, 'shared').count()).toBe(1);
    expect(env.server.keysync.hub.stats().subscribers).toBe(feedsBefore);

    await first.close();
    await expect.poll(() => second.locator('#role').textContent(), { timeout: 15_000 }).toMatch(/leader/);
    await live(second);
    await put(env.server, storeId, 'later', 2);
    await expect.poll(() => row(second, 'later').count(), { timeout: 15_000 }).toBe(1);
    await context.close();
  });

  it('tells the page when its origin is not allowed by CORS (UnreachableError through onError), and keeps retrying', async () => {
    const storeId = await newStore(env.server);
    const elsewhere = await servePages(); // another port: an origin missing from KEYSYNC_CORS_ORIGINS
    try {
      const page = await buildExample();
      elsewhere.set('/', HTML, page.html);
      elsewhere.set('/main.js', JS, page.js);
      const context = await browser.newContext();
      const tab = await context.newPage();
      await tab.goto(`${elsewhere.origin}/?server=${encodeURIComponent(env.server.url)}&store=${storeId}`);
      await expect.poll(() => tab.locator('#error').textContent(), { timeout: 15_000 }).toMatch(/cannot reach keysync .* KEYSYNC_CORS_ORIGINS/);
      expect(await stateOf(tab)).toBe('reconnecting');
      await context.close();
    } finally {
      await elsewhere.close();
    }
  });

  it('shows live writes in the DOM (write -> DOM latency printed)', async () => {
    const storeId = await newStore(env.server);
    const context = await browser.newContext();
    const page = await open(context, storeId);
    await live(page);
    // Time each row's arrival in the page, on the same machine clock as the writer.
    await page.evaluate(() => {
      const seen: Record<string, number> = {};
      (globalThis as unknown as { seen: typeof seen }).seen = seen;
      new MutationObserver(() => {
        for (const tr of document.querySelectorAll<HTMLElement>('tbody tr')) seen[tr.dataset['key']!] ??= Date.now();
      }).observe(document.querySelector('tbody')!, { childList: true, subtree: true });
    });
    const sentAt: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      const key = `w${String(i).padStart(2, '0')}`;
      sentAt[key] = Date.now();
      await put(env.server, storeId, key, i);
      await expect.poll(() => row(page, key).count()).toBe(1);
    }
    const seen = await page.evaluate(() => (globalThis as unknown as { seen: Record<string, number> }).seen);
    const latencies = Object.keys(sentAt)
      .map((k) => seen[k]! - sentAt[k]!)
      .sort((a, b) => a - b);
    console.log(`write -> DOM over ${latencies.length} writes: p50 ${latencies[10]} ms, p90 ${latencies[18]} ms, max ${latencies.at(-1)} ms`);
    expect(latencies.every((ms) => ms >= 0 && ms < 5000)).toBe(true);
    await context.close();
  });
});
