/**
 * The digest handshake (docs/API.md, "Digests") of @keysync/client in real
 * Chromium, whose event loop and base64 are not Node's: an IndexedDB replica
 * of thousands of keys that reconnects without a checkpoint asks for the
 * store's digests, compares them with its own, lists only the keys of the
 * buckets that differ, and ends equal to the server's store.
 */
import { fileURLToPath } from 'node:url';
import { digestBucketOf } from '@keysync/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeysyncOptions } from '../../src/keysync.js';
import { bulk, newStore } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { describeInChromium, launchChromium } from './support/chromium.js';
import { bundle, HTML, JS, servePages, type PageServer } from './support/pages.js';

const options: KeysyncOptions = {};
let pages: PageServer;
beforeAll(async () => {
  pages = await servePages();
  // Read by useTestServer's beforeAll, which runs after this one.
  options.corsOrigins = [pages.origin];
});
const env = useTestServer(options);

interface KeysyncPage {
  sync(baseUrl: string, storeId: string, name: string, forget: boolean): Promise<void>;
  snapshot(name: string): Promise<Record<string, unknown>>;
}

describeInChromium('the digest handshake in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    pages.set('/', HTML, '<!doctype html><script type="module" src="/page.js"></script>');
    pages.set('/page.js', JS, await bundle(fileURLToPath(new URL('./pages/digest-reconnect.ts', import.meta.url))));
  });
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  const call = (page: Page, method: keyof KeysyncPage, ...args: unknown[]) =>
    page.evaluate(
      ([m, a]) =>
        (globalThis as unknown as { keysyncPage: Record<string, (...x: unknown[]) => Promise<unknown>> }).keysyncPage[m as string]!(...(a as unknown[])),
      [method, args] as const,
    );

  it('asks for the store digests, lists only the differing buckets, and ends equal', async () => {
    const storeId = await newStore(env.server);
    for (let i = 0; i < 2500; i += 1000) {
      await bulk(
        env.server,
        storeId,
        Array.from({ length: Math.min(1000, 2500 - i) }, (_, j) => ({ op: 'put', key: `k/${String(i + j).padStart(5, '0')}`, value: { n: i + j } })),
      );
    }
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${pages.origin}/`);
    await page.waitForFunction(() => 'keysyncPage' in globalThis);
    const name = `digests-${storeId}`;
    await call(page, 'sync', env.server.url, storeId, name, false);

    await bulk(env.server, storeId, [
      { op: 'put', key: 'k/00007', value: 'changed' },
      { op: 'put', key: 'k/02222', value: 'changed too' },
      { op: 'delete', key: 'k/01000' },
      { op: 'put', key: 'new', value: 1 },
    ]);
    const sent: Array<{ path: string; body: Record<string, unknown> }> = [];
    page.on('request', (req) => {
      const path = new URL(req.url()).pathname;
      if (req.method() === 'POST' && /\/sync(\/digests)?$/.test(path))
        sent.push({ path: path.endsWith('/digests') ? 'digests' : 'handshake', body: req.postDataJSON() });
    });
    await call(page, 'sync', env.server.url, storeId, name, true);

    expect(errors).toEqual([]);
    expect(sent.map((s) => s.path)).toEqual(['digests', 'handshake']);
    // 2,500 keys in 512 buckets: its own digests stay in the page; the store's come back.
    expect(sent[0]!.body).toEqual({ buckets: 512 });
    const handshake = sent[1]!.body as { have: Record<string, string>; digest: { buckets: number; listed: number[] } };
    expect(handshake.digest.buckets).toBe(512);
    // The buckets of the keys written while it was away, and no other.
    const changed = ['k/00007', 'k/02222', 'k/01000', 'new'].map((key) => digestBucketOf(key, 512));
    expect(handshake.digest.listed).toEqual([...new Set(changed)].sort((a, b) => a - b));
    expect(Object.keys(handshake.have).length).toBeLessThan(40);
    for (const key of ['k/00007', 'k/02222', 'k/01000']) expect(handshake.have).toHaveProperty([key]);
    expect(await call(page, 'snapshot', name)).toEqual(await serverSnapshot(env.server, storeId));
    await page.close();
  });
});
