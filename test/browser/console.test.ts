/**
 * The web console in real Chromium against a secured server: stores, keys
 * with prefix search and paging, JSON and bytes values, sync sessions with
 * progress, and a live write in the feed table within a second; with the
 * admin token and with a read token (native EventSource on a feed token).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, json } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { ADMIN, adminStore, admin, issueToken } from '../security/support.js';
import { describeInChromium, launchChromium, outputPath } from './support/chromium.js';

const env = useTestServer({ adminToken: ADMIN });

describeInChromium('the web console in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  const put = async (storeId: string, key: string, init: RequestInit) => {
    const res = await call(env.server, `/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`, {
      method: 'PUT',
      ...init,
      headers: { ...admin, ...(init.headers as object) },
    });
    expect(res.status).toBe(200);
    return res.body as { rev: number };
  };
  async function open(token: string, storeId: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const urls: string[] = [];
    requested.set(page, urls);
    page.on('request', (req) => void urls.push(req.url()));
    await page.goto(`${env.server.url}/console/#store=${storeId}`);
    await page.fill('#token', token);
    await page.click('#auth button');
    await expect.poll(() => page.locator('#feed-state').textContent(), { timeout: 10_000 }).toBe('live');
    expect(errors).toEqual([]);
    return page;
  }
  const requested = new WeakMap<Page, string[]>();
  const keysShown = (page: Page) => page.locator('#keys tbody tr td:first-child').allTextContents();

  it('browses keys and values, shows sync progress and a live write within a second (admin token)', async () => {
    const storeId = await adminStore(env.server);
    const ops = Array.from({ length: 60 }, (_, i) => ({ op: 'put', key: `users/${String(i).padStart(3, '0')}`, value: { i, name: `user ${i}` } }));
    expect((await call(env.server, `/v1/stores/${storeId}/writes`, json({ ops }, { headers: admin }))).status).toBe(200);
    await put(storeId, 'avatar', { body: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]), headers: { 'content-type': 'image/png' } });
    // A sync session in progress: 3 batches, the first acked.
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 25 }, { headers: admin }));
    await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/0`, { headers: admin });
    await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/ack`, json({ cursor: 0 }, { headers: admin }));

    const page = await open(ADMIN, storeId);
    await expect.poll(() => page.locator(`#stores li[data-store-id="${storeId}"]`).count()).toBe(1);

    // Keys: first page of 50, then the next; a prefix search.
    await expect.poll(async () => (await keysShown(page)).length).toBe(50);
    expect((await keysShown(page))[0]).toBe('avatar');
    await page.click('#next-page');
    await expect.poll(async () => (await keysShown(page))[0]).toBe('users/049');
    expect(await keysShown(page)).toHaveLength(11);
    await page.fill('#prefix', 'users/05');
    await page.click('#key-search button');
    await expect.poll(() => keysShown(page)).toEqual(Array.from({ length: 10 }, (_, i) => `users/05${i}`));

    // Values: JSON pretty-printed; bytes as hex with their content type.
    await page.click('#keys tbody tr:first-child');
    await expect.poll(() => page.locator('#value').textContent()).toBe(JSON.stringify({ i: 50, name: 'user 50' }, null, 2));
    await page.fill('#prefix', 'ava');
    await page.click('#key-search button');
    await expect.poll(() => keysShown(page)).toEqual(['avatar']);
    await page.click('#keys tbody tr:first-child');
    await expect.poll(() => page.locator('#value').textContent()).toMatch(/^00000000 {2}89 50 4e 47 00 01 02 +\.PNG\.\.\.$/);
    expect(await page.locator('#value-meta').textContent()).toContain('image/png · 7 bytes');

    // Sessions with progress.
    await expect.poll(() => page.locator('#sessions .session').textContent()).toContain('1/3 batches acked');
    expect(await page.locator('#sessions progress').getAttribute('value')).toBe('1');

    // A live write reaches the feed table within a second.
    await page.evaluate(() => {
      const w = globalThis as unknown as { shownAt?: number };
      new MutationObserver(() => {
        if (document.querySelector('#feed tr[data-key="live/1"]')) w.shownAt ??= Date.now();
      }).observe(document.querySelector('#feed tbody')!, { childList: true });
    });
    const sent = Date.now();
    const { rev } = await put(storeId, 'live/1', json({ hello: 'console' }, { method: 'PUT' }));
    await expect.poll(() => page.locator(`#feed tr[data-rev="${rev}"]`).count(), { timeout: 1000, interval: 20 }).toBe(1);
    const shownAt = await page.evaluate(() => (globalThis as unknown as { shownAt: number }).shownAt);
    console.log(`console: live write shown ${shownAt - sent} ms after the PUT was sent`);
    expect(await page.locator('#feed tbody tr:first-child').textContent()).toContain('{"hello":"console"}');
    await page.screenshot({ path: await outputPath('console.png'), fullPage: true });
    await page.close();
  });

  it('works with a read token: the store by id, keys, values and the live feed (feed token); sessions are admin-only', async () => {
    const storeId = await adminStore(env.server);
    await put(storeId, 'a', json(1, { method: 'PUT' }));
    const read = await issueToken(env.server, storeId, 'read');
    const reader = await open(read.token, storeId);
    // The page's EventSource authenticated with a feed token in the query string.
    const feeds = requested.get(reader)!.filter((url) => url.includes('/events'));
    expect(feeds.at(-1)).toMatch(/[?&]access_token=ksf1\./);
    expect(await reader.locator('#stores-hint').textContent()).toMatch(/admin token/);
    await expect.poll(() => keysShown(reader)).toEqual(['a']);
    await expect.poll(() => reader.locator('#sessions').textContent()).toMatch(/admin token only/);
    const { rev } = await put(storeId, 'b', json(2, { method: 'PUT' }));
    await expect.poll(() => reader.locator(`#feed tr[data-rev="${rev}"]`).count(), { timeout: 5000 }).toBe(1);
    await reader.close();
  });
});
