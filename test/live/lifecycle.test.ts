import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { backend } from '../support/db.js';
import { call, del, newStore, put } from '../support/http.js';
import { openFeed, type FeedEvent } from '../support/sse.js';
import { eventually } from '../support/eventually.js';
import { restartSettled } from '../support/restart.js';
import { startServer, useTestServer } from '../support/server.js';

// Retention 0: a housekeeping pass purges every tombstone (the harness never runs it on its own).
const env = useTestServer({ limits: { tombstoneRetentionMs: 0 } });

const changes = (events: FeedEvent[]) => events.filter((e) => e.event === 'put' || e.event === 'delete');

describe('a deleted store', () => {
  it('sends store-deleted to every open feed and closes them', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'a', 1);
    const plain = await openFeed(env.server, storeId, '?since=0');
    const filtered = await openFeed(env.server, storeId, '?prefix=zzz');
    await plain.waitFor((f) => f.events.some((e) => e.event === 'ready'));
    await filtered.waitFor((f) => f.events.some((e) => e.event === 'ready'));

    expect((await call(env.server, `/v1/stores/${storeId}`, { method: 'DELETE' })).status).toBe(204);
    for (const feed of [plain, filtered]) {
      await feed.ended;
      expect(feed.events.at(-1)!.event).toBe('store-deleted');
    }
    await eventually(() => env.server.keysync.hub.stats().subscribers === 0, 5000, 'the feeds to detach');
    // A feed of a store that is gone is a plain 404.
    const late = await call(env.server, `/v1/stores/${storeId}/events`, { headers: { accept: 'text/event-stream' } });
    expect(late.status).toBe(404);
    expect(late.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('reset', () => {
  it('is sent for a since ahead of the head, and the stream closes', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'a', 1);
    for (const [query, headers] of [
      ['?since=2', {}],
      ['?since=1000', {}],
      ['?since=0', { 'Last-Event-ID': '5' }],
    ] as const) {
      const feed = await openFeed(env.server, storeId, query, { headers });
      await feed.ended;
      expect(
        feed.events.map((e) => e.event),
        query,
      ).toEqual(['reset']);
    }
  });

  it('is sent for a since below the purged tombstones, and the stream closes', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'a', 1); // 1
    await put(env.server, storeId, 'b', 1); // 2
    await del(env.server, storeId, 'a'); // 3
    await put(env.server, storeId, 'c', 1); // 4
    expect((await env.server.keysync.housekeeping()).purged).toBeGreaterThanOrEqual(1);

    for (const query of ['?since=0', '?since=2']) {
      const feed = await openFeed(env.server, storeId, query);
      await feed.ended;
      expect(
        feed.events.map((e) => e.event),
        query,
      ).toEqual(['reset']);
    }
    const fromPurged = await openFeed(env.server, storeId, '?since=3');
    try {
      await fromPurged.waitFor((f) => f.events.some((e) => e.event === 'ready'));
      expect(changes(fromPurged.events).map((e) => e.data.key)).toEqual(['c']);
    } finally {
      fromPurged.close();
    }
  });
});

describe('a server restart mid feed', () => {
  it('closes the feed; a reconnect with Last-Event-ID gets what was written meanwhile, nothing lost or repeated', async () => {
    const storeId = await newStore(env.server);
    for (let i = 0; i < 5; i++) await put(env.server, storeId, `before/${i}`, i); // 1..5
    const first = await openFeed(env.server, storeId, '?since=2');
    await first.waitFor((f) => f.events.some((e) => e.event === 'ready'));
    for (let i = 0; i < 5; i++) await put(env.server, storeId, `live/${i}`, i); // 6..10
    await first.waitFor((f) => f.lastId === '10');

    await restartSettled(env.server);
    await first.ended;
    const written: number[] = [];
    for (let i = 0; i < 5; i++) written.push((await put(env.server, storeId, `offline/${i}`, i)).rev); // 11..15
    await put(env.server, storeId, 'live/0', 'rewritten'); // 16: compacts away rev 6

    const second = await openFeed(env.server, storeId, '', { headers: { 'Last-Event-ID': first.lastId! } });
    try {
      await second.waitFor((f) => f.events.some((e) => e.event === 'ready'));
      const w = await put(env.server, storeId, 'after-reconnect', true); // 17
      await second.waitFor((f) => f.lastId === String(w.rev));
      const one = changes(first.events).map((e) => Number(e.id));
      const two = changes(second.events).map((e) => Number(e.id));
      expect(one).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
      expect(two).toEqual([...written, 16, 17]);
      expect(changes(second.events).map((e) => e.data.key)).toEqual([
        'offline/0',
        'offline/1',
        'offline/2',
        'offline/3',
        'offline/4',
        'live/0',
        'after-reconnect',
      ]);
    } finally {
      second.close();
    }
  });
});

describe('two server instances on one database', () => {
  it.runIf(backend === 'postgres')('a write and an unregister on one instance reach the feeds of the other', async () => {
    // A separate connection pool, as a second process would have.
    const second = await openDatabase({ databaseUrl: env.db.url!, maxConnections: 4 });
    const other = await startServer({ database: second, drop: () => second.close() });
    try {
      const storeId = await newStore(env.server);
      const feed = await openFeed(env.server, storeId);
      await feed.waitFor((f) => f.events.some((e) => e.event === 'ready'));
      // Each write is awaited on the feed before the next: the change log is compacted, so
      // the delete of `from-other` landing before this instance read its put would replace it.
      const w1 = await put(other, storeId, 'from-other', 1);
      await feed.waitFor((f) => f.lastId === String(w1.rev));
      const w2 = await put(env.server, storeId, 'from-here', 2);
      await feed.waitFor((f) => f.lastId === String(w2.rev));
      const w3 = await del(other, storeId, 'from-other');
      await feed.waitFor((f) => f.lastId === String(w3.rev));
      expect(changes(feed.events).map((e) => [e.event, e.data.key, e.data.rev])).toEqual([
        ['put', 'from-other', w1.rev],
        ['put', 'from-here', w2.rev],
        ['delete', 'from-other', w3.rev],
      ]);
      expect((await call(other, `/v1/stores/${storeId}`, { method: 'DELETE' })).status).toBe(204);
      await feed.ended;
      expect(feed.events.at(-1)!.event).toBe('store-deleted');
    } finally {
      await other.close();
      await second.close();
    }
  });
});
