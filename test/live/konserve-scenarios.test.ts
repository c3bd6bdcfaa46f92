/**
 * The scenarios of konserve-sync's own test suite, restated against the
 * HTTP contract: a fresh client, write order, unsubscribe and unregister.
 */
import { describe, expect, it } from 'vitest';
import { bulk, call, keyPath, newStore, put } from '../support/http.js';
import { Replica, serverSnapshot } from '../support/replica.js';
import { openFeed, type Feed, type FeedEvent } from '../support/sse.js';
import { eventually } from '../support/eventually.js';
import { useTestServer } from '../support/server.js';
import { sessionStatus, sleep, startSync } from '../support/sync.js';

const env = useTestServer();

const changes = (events: FeedEvent[]) => events.filter((e) => e.event === 'put' || e.event === 'delete');

async function subscribe(storeId: string, since?: number): Promise<Feed> {
  const feed = await openFeed(env.server, storeId, since === undefined ? '' : `?since=${since}`);
  await feed.waitFor((f) => f.events.some((e) => e.event === 'ready'));
  return feed;
}

const BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const VALUES: Record<string, unknown> = {
  string: 'hello world',
  unicode: 'grüße, 世界 🌍 "quoted" \\ back\nslash',
  empty: '',
  map: { name: 'Alice', age: 30, nested: { deep: { deeper: [1, { x: null }] } } },
  array: [1, 'two', { three: 3 }, [4, [5]], null, true, false, 1.25e-7],
  number: 42,
  negative: -0.5,
  bool: false,
  null: null,
  'key/with slashes and spaces': 'ok',
  'ключ-ユニコード': ['unicode key'],
};

describe('konserve-sync scenarios', () => {
  it('a fresh client receives strings, maps, arrays and binary values intact', async () => {
    const storeId = await newStore(env.server);
    for (const [key, value] of Object.entries(VALUES)) await put(env.server, storeId, key, value);
    const bin = await call(env.server, keyPath(storeId, 'binary'), { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: BYTES });
    expect(bin.status).toBe(200);

    const replica = new Replica();
    const hs = await replica.sync(env.server, storeId, { batchSize: 4 });
    expect(hs.batches).toBe(3);
    const expected = { ...VALUES, binary: { base64: Buffer.from(BYTES).toString('base64'), contentType: 'application/octet-stream' } };
    expect(replica.snapshot()).toEqual(Object.fromEntries(Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))));
    expect(replica.snapshot()).toEqual(await serverSnapshot(env.server, storeId));
    expect(Buffer.from(replica.data.get('binary')!.base64!, 'base64').equals(Buffer.from(BYTES))).toBe(true);

    // The same values arrive intact on the live feed.
    const feed = await subscribe(storeId, 0);
    try {
      const live = new Replica();
      for (const e of changes(feed.events)) live.apply(e.data);
      expect(live.snapshot()).toEqual(replica.snapshot());
    } finally {
      feed.close();
    }
  });

  it('a multi-key write reaches the subscriber in op order', async () => {
    const storeId = await newStore(env.server);
    const feed = await subscribe(storeId);
    try {
      const keys = ['zeta', 'alpha', 'mid', 'beta', 'omega'];
      await bulk(
        env.server,
        storeId,
        keys.map((key, i) => ({ op: 'put', key, value: i })),
      );
      await feed.waitFor((f) => changes(f.events).length === keys.length);
      expect(changes(feed.events).map((e) => e.data.key)).toEqual(keys);
    } finally {
      feed.close();
    }
  });

  it('sequential writes of one key reach the subscriber in order, ending at the last value', async () => {
    const storeId = await newStore(env.server);
    const feed = await subscribe(storeId);
    try {
      for (let i = 0; i < 20; i++) await put(env.server, storeId, 'counter', i);
      await feed.waitFor((f) => changes(f.events).some((e) => e.data.value === 19));
      const values = changes(feed.events).map((e) => e.data.value as number);
      // Live events are compacted only when several writes land between two reads; never reordered.
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(new Set(values).size).toBe(values.length);
      expect(values.at(-1)).toBe(19);
    } finally {
      feed.close();
    }
  });

  it('unsubscribing stops events', async () => {
    const storeId = await newStore(env.server);
    const feed = await subscribe(storeId);
    await put(env.server, storeId, 'one', 1);
    await feed.waitFor((f) => changes(f.events).length === 1);
    feed.close();
    await feed.ended;
    await eventually(() => env.server.keysync.hub.stats().subscribers === 0, 5000, 'the subscriber to detach');
    const count = feed.frames.length;
    await put(env.server, storeId, 'two', 2);
    await sleep(200);
    expect(feed.frames.length).toBe(count);
  });

  it('unregistering the store while subscribed ends the feed with store-deleted, and its sessions with it', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'k', 1);
    await put(env.server, storeId, 'l', 1);
    const hs = await startSync(env.server, storeId, { have: {}, batchSize: 1 });
    const feed = await subscribe(storeId);
    expect((await call(env.server, `/v1/stores/${storeId}`, { method: 'DELETE' })).status).toBe(204);
    await feed.ended;
    expect(feed.events.map((e) => e.event)).toEqual(['ready', 'store-deleted']);
    expect((await sessionStatus(env.server, storeId, hs.sessionId)).status).toBe(404);
    expect((await call(env.server, keyPath(storeId, 'k'))).status).toBe(404);
    await eventually(() => env.server.keysync.hub.stats().subscribers === 0, 5000, 'the subscriber to detach');
  });
});
