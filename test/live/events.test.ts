import { describe, expect, it } from 'vitest';
import { bulk, call, del, keyPath, newStore, put } from '../support/http.js';
import { openFeed, type Feed, type FeedEvent } from '../support/sse.js';
import { eventually } from '../support/eventually.js';
import { useTestServer } from '../support/server.js';
import { sleep } from '../support/sync.js';

const env = useTestServer();

const changes = (events: FeedEvent[]) => events.filter((e) => e.event === 'put' || e.event === 'delete');

async function liveFeed(storeId: string, query = ''): Promise<Feed> {
  const feed = await openFeed(env.server, storeId, query);
  expect(feed.status).toBe(200);
  await feed.waitFor((f) => f.events.some((e) => e.event === 'ready'));
  return feed;
}

async function putBytes(storeId: string, key: string, bytes: Uint8Array<ArrayBuffer>, contentType: string) {
  const res = await call(env.server, keyPath(storeId, key), { method: 'PUT', headers: { 'content-type': contentType }, body: bytes });
  expect(res.status).toBe(200);
  return res.body as { key: string; rev: number; ts: string };
}

describe('live events', () => {
  it('deliver puts, overwrites and deletes with their rev, ts and value (JSON and bytes)', async () => {
    const storeId = await newStore(env.server);
    const feed = await liveFeed(storeId);
    try {
      // The change log is compacted: an overwrite that lands before the feed
      // reads the first write replaces it. Each write therefore waits for its
      // event, so every version is observable and the assertion stays exact.
      const seen = (n: number) => feed.waitFor((f) => changes(f.events).length === n);
      const first = await put(env.server, storeId, 'doc', { title: 'hello', tags: ['a', 'b'], n: 1.5, nested: { ok: true } });
      await seen(1);
      const second = await put(env.server, storeId, 'doc', 'now a string');
      await seen(2);
      const bytes = new Uint8Array([0, 1, 2, 253, 254, 255, 10, 13]);
      const bin = await putBytes(storeId, 'blob', bytes, 'image/png');
      await seen(3);
      const gone = await del(env.server, storeId, 'doc');
      await seen(4);
      expect(changes(feed.events)).toEqual([
        {
          event: 'put',
          id: String(first.rev),
          data: { key: 'doc', rev: first.rev, ts: first.ts, kind: 'json', value: { title: 'hello', tags: ['a', 'b'], n: 1.5, nested: { ok: true } } },
        },
        { event: 'put', id: String(second.rev), data: { key: 'doc', rev: second.rev, ts: second.ts, kind: 'json', value: 'now a string' } },
        {
          event: 'put',
          id: String(bin.rev),
          data: { key: 'blob', rev: bin.rev, ts: bin.ts, kind: 'bytes', base64: Buffer.from(bytes).toString('base64'), contentType: 'image/png' },
        },
        { event: 'delete', id: String(gone.rev), data: { key: 'doc', rev: gone.rev, ts: gone.ts, kind: 'tombstone', deleted: true } },
      ]);
    } finally {
      feed.close();
    }
  });

  it('deliver a multi-key write in op order with consecutive revs', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'z', 'old');
    const feed = await liveFeed(storeId);
    try {
      const results = await bulk(env.server, storeId, [
        { op: 'put', key: 'm', value: 1 },
        { op: 'put', key: 'c', value: 2 },
        { op: 'delete', key: 'z' },
        { op: 'put', key: 'a', base64: Buffer.from('hi').toString('base64'), contentType: 'text/plain' },
        { op: 'put', key: 'b', value: null },
      ]);
      expect(results.map((r) => r.rev)).toEqual([2, 3, 4, 5, 6]);
      await feed.waitFor((f) => changes(f.events).length === 5);
      expect(changes(feed.events).map((e) => [e.event, e.data.key, Number(e.id)])).toEqual([
        ['put', 'm', 2],
        ['put', 'c', 3],
        ['delete', 'z', 4],
        ['put', 'a', 5],
        ['put', 'b', 6],
      ]);
      expect(changes(feed.events)[4]!.data).toEqual({ key: 'b', rev: 6, ts: results[4]!.ts, kind: 'json', value: null });
    } finally {
      feed.close();
    }
  });

  it('deliver sequential writes in write order', async () => {
    const storeId = await newStore(env.server);
    const feed = await liveFeed(storeId);
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `seq/${(i * 17) % 40}`);
      const revs: number[] = [];
      for (const [i, key] of keys.entries()) revs.push((await put(env.server, storeId, key, i)).rev);
      await feed.waitFor((f) => changes(f.events).length === keys.length);
      expect(changes(feed.events).map((e) => e.data.key)).toEqual(keys);
      expect(changes(feed.events).map((e) => e.data.rev)).toEqual(revs);
      expect(changes(feed.events).map((e) => e.data.value)).toEqual(keys.map((_, i) => i));
    } finally {
      feed.close();
    }
  });

  it('never leak between two stores', async () => {
    const one = await newStore(env.server);
    const two = await newStore(env.server);
    const feedOne = await liveFeed(one);
    const feedTwo = await liveFeed(two);
    try {
      for (let i = 0; i < 5; i++) {
        await put(env.server, one, 'same-key', `one-${i}`);
        await put(env.server, two, 'same-key', `two-${i}`);
      }
      await bulk(env.server, one, [{ op: 'put', key: 'only-one', value: 1 }]);
      await del(env.server, two, 'same-key');
      // Rev 6 is each store's last write, and a feed sends in rev order: once it is there, all is.
      await feedOne.waitFor((f) => changes(f.events).some((e) => Number(e.id) === 6));
      await feedTwo.waitFor((f) => changes(f.events).some((e) => Number(e.id) === 6));
      await sleep(100);
      const ones = changes(feedOne.events);
      const twos = changes(feedTwo.events);
      // Nothing of the other store, whose keys and revs are the same.
      expect(ones.every((e) => e.data.value === 1 || /^one-\d$/.test(e.data.value))).toBe(true);
      expect(twos.every((e) => e.event === 'delete' || /^two-\d$/.test(e.data.value))).toBe(true);
      // Each store's own revs, in order. The change log keeps one row per key: a write the
      // tailer had not read yet when the next write to the same key landed arrives once, at
      // the later rev, so on a loaded machine a feed may skip an earlier value of same-key.
      for (const feed of [ones, twos]) {
        const ids = feed.map((e) => Number(e.id));
        expect(ids.every((id, i) => id >= 1 && id <= 6 && (i === 0 || id > ids[i - 1]!))).toBe(true);
      }
      expect(ones.slice(-2).map((e) => [Number(e.id), e.data.key, e.data.value])).toEqual([
        [5, 'same-key', 'one-4'],
        [6, 'only-one', 1],
      ]);
      expect(twos.at(-1)).toMatchObject({ event: 'delete', id: '6', data: { key: 'same-key' } });
      // Unloaded, every write is read before the next one lands (the usual case).
      if (ones.length === 6) expect(ones.map((e) => e.data.value)).toEqual(['one-0', 'one-1', 'one-2', 'one-3', 'one-4', 1]);
    } finally {
      feedOne.close();
      feedTwo.close();
    }
  });

  it('stop after the client closes, and the server drops the subscriber', async () => {
    await eventually(() => env.server.keysync.hub.stats().subscribers === 0, 5000, 'earlier feeds to detach');
    const storeId = await newStore(env.server);
    const feed = await liveFeed(storeId);
    const other = await liveFeed(storeId);
    expect(env.server.keysync.hub.stats().subscribers).toBe(2);
    await put(env.server, storeId, 'before', 1);
    await feed.waitFor((f) => changes(f.events).length === 1);
    feed.close();
    await feed.ended;
    await eventually(() => env.server.keysync.hub.stats().subscribers === 1, 5000, 'the closed feed to detach');
    const seen = feed.frames.length;
    await put(env.server, storeId, 'after', 2);
    await other.waitFor((f) => changes(f.events).length === 2);
    expect(feed.frames.length).toBe(seen);
    other.close();
    await eventually(() => env.server.keysync.hub.stats().subscribers === 0, 5000, 'every feed to detach');
    expect(env.server.keysync.hub.stats().tailers).toBe(0);
  });
});
