import { describe, expect, it } from 'vitest';
import { bulk, newStore, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { feedKeys, freshSync, syncAll } from './helpers.js';

const env = useTestServer();

const order = [
  { prefix: 'db', rank: 1 },
  { prefix: 'meta/', rank: -1 },
  { prefix: 'nodes/late/', rank: 5 },
];
// Written interleaved, so rev order differs from rank order.
const WRITES = ['db', 'nodes/1', 'meta/a', 'nodes/late/x', 'nodes/2', 'dbx', 'meta/b', 'nodes/3', 'db/child'];
const EXPECTED = ['meta/a', 'meta/b', 'nodes/1', 'nodes/2', 'nodes/3', 'db', 'dbx', 'db/child', 'nodes/late/x'];

describe('options.order over HTTP', () => {
  it('sends higher ranks later and keeps rev order within a rank; the stale list is the delivery order', async () => {
    const storeId = await newStore(env.server, { order });
    for (const key of WRITES) await put(env.server, storeId, key, key);
    for (const batchSize of [1, 2, 4, 100]) {
      const { hs, entries } = await freshSync(env.server, storeId, { batchSize });
      expect(hs.stale).toEqual(EXPECTED);
      expect(entries.map((e) => e.key)).toEqual(hs.stale);
    }
  });

  it('orders by the latest rev of a key: a rewritten key moves to the end of its rank', async () => {
    const storeId = await newStore(env.server, { order });
    for (const key of WRITES) await put(env.server, storeId, key, key);
    await put(env.server, storeId, 'nodes/1', 'again');
    await put(env.server, storeId, 'db', 'again');
    const { hs, entries } = await freshSync(env.server, storeId, { batchSize: 3 });
    expect(hs.stale).toEqual(['meta/a', 'meta/b', 'nodes/2', 'nodes/3', 'nodes/1', 'dbx', 'db/child', 'db', 'nodes/late/x']);
    expect(entries.map((e) => e.key)).toEqual(hs.stale);
  });

  it('lets the longest matching prefix decide the rank', async () => {
    const storeId = await newStore(env.server, {
      order: [
        { prefix: 'a', rank: 2 },
        { prefix: 'ab', rank: -3 },
        { prefix: '', rank: 1 },
      ],
    });
    await bulk(
      env.server,
      storeId,
      ['a1', 'ab1', 'z', 'abc', 'a2'].map((key) => ({ op: 'put', key, value: 0 })),
    );
    const { hs } = await freshSync(env.server, storeId);
    expect(hs.stale).toEqual(['ab1', 'abc', 'z', 'a1', 'a2']);
  });

  it('orders a since handshake the same way', async () => {
    const storeId = await newStore(env.server, { order });
    await put(env.server, storeId, 'before', 0);
    const { hs: first } = await freshSync(env.server, storeId);
    for (const key of WRITES) await put(env.server, storeId, key, key);
    const { hs, entries } = await syncAll(env.server, storeId, { since: first.headRev, batchSize: 2 });
    expect(hs.stale).toEqual(EXPECTED);
    expect(entries.map((e) => e.key)).toEqual(EXPECTED);
  });

  it('does not reorder the live feed: it stays in rev order', async () => {
    const storeId = await newStore(env.server, { order });
    const feed = await openFeed(env.server, storeId);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    await bulk(
      env.server,
      storeId,
      WRITES.map((key) => ({ op: 'put', key, value: key })),
    );
    await feed.waitFor(({ events: evs }) => feedKeys(evs).length === WRITES.length);
    feed.close();
    expect(feedKeys(feed.events)).toEqual(WRITES);
  });
});
