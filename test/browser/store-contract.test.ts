/**
 * The shared LocalStore contract (clients/typescript/test/support/
 * local-store-contract.ts) on IndexedDBStore in real Chromium: the same
 * module as the Node run on fake-indexeddb, bundled with vitest's expect.
 */
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInChromium, launchChromium } from './support/chromium.js';
import { bundle, HTML, JS, servePages, type PageServer } from './support/pages.js';

describeInChromium('IndexedDBStore in Chromium', () => {
  let browser: Browser;
  let pages: PageServer;
  beforeAll(async () => {
    [browser, pages] = await Promise.all([launchChromium(), servePages()]);
    pages.set('/', HTML, '<!doctype html><script type="module" src="/contract.js"></script>');
    pages.set('/contract.js', JS, await bundle(fileURLToPath(new URL('./pages/store-contract.ts', import.meta.url)), false));
  });
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  it('passes the LocalStore contract', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${pages.origin}/`);
    await page.waitForFunction(() => 'contractResults' in globalThis);
    const results = (await page.evaluate(() => (globalThis as unknown as { contractResults: Promise<unknown> }).contractResults)) as Array<{
      name: string;
      status: string;
      error?: string;
    }>;
    expect(errors).toEqual([]);
    expect(results.filter((r) => r.status === 'failed')).toEqual([]);
    expect(results.filter((r) => r.status === 'passed').length).toBeGreaterThanOrEqual(14);
    // The durable test must really run here: IndexedDB keeps data across a reopen.
    expect(results.find((r) => r.name.includes('across a reopen'))?.status).toBe('passed');
  });
});
