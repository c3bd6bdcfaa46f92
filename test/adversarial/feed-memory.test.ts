/**
 * Live feeds that stop reading, with large values, on a real server process:
 * the server's memory stays within the feed's byte cap (plus slack for the
 * process itself), whatever the number of events.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { applyWrites } from '../../src/store/writes.js';
import { GC_PROBE_OPTIONS, liveFeeds, memoryAfterGc, registerStore, serverOn, stalledFeed, type AdversarialServer, type Memory } from './support.js';

/**
 * The embedded database's WASM memory grows (and never shrinks) while it caches 300 MB of new
 * values once its small default buffer pool is full; that is PGlite's cache, not the feed's
 * buffers this test bounds. A pool touched in full at start keeps that growth out of the reading.
 *
 * glibc's malloc raises its mmap threshold to the size of each large block freed (up to 32 MB),
 * after which the 1 MB request bodies and statements land in its arenas, which keep them once
 * freed: 47-60 MB of the reading in runs on PGlite, none of it the feed's. A fixed threshold
 * (MALLOC_MMAP_THRESHOLD_, ignored off glibc) hands them back: -8 to +3 MB in the same runs.
 */
const SERVER_ENV = { KEYSYNC_PGLITE_SHARED_BUFFERS: '128MB', MALLOC_MMAP_THRESHOLD_: '131072' };

const MB = 1024 * 1024;
/** the default KEYSYNC_SUBSCRIBER_QUEUE_BYTES */
const QUEUE_BYTES = 16 * MB;
/**
 * The process's own slack (see SERVER_ENV for what glibc would otherwise
 * keep). A feed that kept its events would hold about 300 MB more, far past
 * this.
 */
const SLACK = 40 * MB;

/** A JSON string value of about `bytes` bytes, different for each `n`. */
const bigValue = (bytes: number, n: number) => JSON.stringify(`${n}:`.padEnd(bytes - 2, 'x'));

const show = (m: Memory) => `rss ${(m.rss / MB).toFixed(1)} MB, heap ${(m.heapUsed / MB).toFixed(1)} MB, external ${(m.external / MB).toFixed(1)} MB`;

async function until(pred: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('live feed memory is bounded in bytes (a real server process)', () => {
  const servers: AdversarialServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('a subscriber that stops reading over 300 writes of 1 MB grows the server by less than its byte cap + 40 MB, and is cut', async () => {
    let storeId = '';
    const server = await serverOn({ NODE_OPTIONS: GC_PROBE_OPTIONS, ...SERVER_ENV }, async (keysync) => {
      storeId = await registerStore(keysync, 'live-big');
    });
    servers.push(server);
    const put = async (key: string, body: string) => {
      const res = await fetch(`${server.url}/v1/stores/${storeId}/keys/${key}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    };
    // Warm the write path so its own first-use memory is in the baseline.
    for (let i = 0; i < 10; i++) await put(`warm${i}`, bigValue(MB, i));
    const before = await memoryAfterGc(server);

    const socket = await stalledFeed(server.url, `/v1/stores/${storeId}/events`);
    await until(async () => (await liveFeeds(server.url)) === 1, 10_000);
    let peak = before.rss;
    for (let i = 0; i < 300; i++) {
      await put(`k${i}`, bigValue(MB, i));
      if (i % 25 === 0) peak = Math.max(peak, server.rss());
    }
    const after = await memoryAfterGc(server);
    const feeds = await liveFeeds(server.url);
    socket.destroy();
    console.log(`stalled live feed, 300 x 1 MB: before ${show(before)}; after ${show(after)}; peak rss seen ${(peak / MB).toFixed(1)} MB; open feeds ${feeds}`);
    expect(feeds, 'the stalled feed is cut once past its byte cap').toBe(0);
    expect(after.rss - before.rss, `${show(before)} -> ${show(after)}`).toBeLessThan(QUEUE_BYTES + SLACK);
  }, 300_000);

  it('a since=0 subscriber that stops reading over 40 values of 8 MB grows the server by less than the byte cap + 40 MB', async () => {
    let storeId = '';
    const server = await serverOn({ NODE_OPTIONS: GC_PROBE_OPTIONS, ...SERVER_ENV }, async (keysync) => {
      storeId = await registerStore(keysync, 'backlog-big');
      for (let i = 0; i < 40; i++) await applyWrites(keysync.database.db, storeId, [{ op: 'put', key: `k${i}`, json: bigValue(8 * MB, i) }]);
    });
    servers.push(server);
    // Warm the feed path with a feed that reads.
    const warm = await fetch(`${server.url}/v1/stores/${storeId}/events?since=39`);
    const reader = warm.body!.getReader();
    await reader.read();
    await reader.cancel();
    const before = await memoryAfterGc(server);

    const socket = await stalledFeed(server.url, `/v1/stores/${storeId}/events?since=0`);
    // The backlog fills the socket and waits for the client: give it time to run as far as it will.
    let peak = before.rss;
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, server.rss());
    }
    const after = await memoryAfterGc(server);
    socket.destroy();
    console.log(`stalled since=0 feed, 40 x 8 MB: before ${show(before)}; after ${show(after)}; peak rss seen ${(peak / MB).toFixed(1)} MB`);
    expect(after.rss - before.rss, `${show(before)} -> ${show(after)}`).toBeLessThan(QUEUE_BYTES + SLACK);
  }, 300_000);
});
