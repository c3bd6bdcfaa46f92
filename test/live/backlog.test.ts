import { describe, expect, it } from 'vitest';
import { bulk, del, newStore, put } from '../support/http.js';
import { openFeed, type FeedEvent } from '../support/sse.js';
import { eventually } from '../support/eventually.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();

const changes = (events: FeedEvent[]) => events.filter((e) => e.event === 'put' || e.event === 'delete');
const summary = (events: FeedEvent[]) => changes(events).map((e) => [e.event, e.data.key, Number(e.id)]);
const isReady = (e: FeedEvent) => e.event === 'ready';

describe('the backlog after since', () => {
  it('is compacted, in strictly increasing id order, then ready with headRev', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'a', 0);
    await put(env.server, storeId, 'b', 0);
    const since = (await put(env.server, storeId, 'c', 0)).rev; // 3
    await put(env.server, storeId, 'a', 1); // 4
    await put(env.server, storeId, 'b', 1); // 5
    await put(env.server, storeId, 'a', 2); // 6
    const c = await del(env.server, storeId, 'c'); // 7
    const a = await put(env.server, storeId, 'a', 3); // 8
    await put(env.server, storeId, 'd', 1); // 9

    const feed = await openFeed(env.server, storeId, `?since=${since}`);
    try {
      await feed.waitFor((f) => f.events.some(isReady));
      expect(summary(feed.events)).toEqual([
        ['put', 'b', 5],
        ['delete', 'c', 7],
        ['put', 'a', 8],
        ['put', 'd', 9],
      ]);
      expect(feed.events.at(-1)).toEqual({ event: 'ready', data: { headRev: 9, heartbeatMs: 500 } });
      expect(changes(feed.events).find((e) => e.data.key === 'a')!.data).toEqual({ key: 'a', rev: a.rev, ts: a.ts, kind: 'json', value: 3 });
      expect(changes(feed.events).find((e) => e.data.key === 'c')!.data).toEqual({ key: 'c', rev: c.rev, ts: c.ts, kind: 'tombstone', deleted: true });
      // Exact frames: one data line per event, the id is the rev.
      expect(feed.frames.find((f) => f.event === 'put')!.raw).toBe(
        `event: put\nid: 5\ndata: {"key":"b","rev":5,"ts":"${changes(feed.events)[0]!.data.ts}","kind":"json","value":1}`,
      );
      expect(feed.frames.find((f) => f.event === 'ready')!.raw).toBe('event: ready\ndata: {"headRev":9,"heartbeatMs":500}');
    } finally {
      feed.close();
    }
  });

  it('pages through a long backlog in strictly increasing order', async () => {
    const storeId = await newStore(env.server);
    await bulk(
      env.server,
      storeId,
      Array.from({ length: 1000 }, (_, i) => ({ op: 'put', key: `k${i}`, value: i })),
    );
    await bulk(
      env.server,
      storeId,
      Array.from({ length: 200 }, (_, i) => ({ op: 'put', key: `k${1000 + i}`, value: 1000 + i })),
    );
    await bulk(
      env.server,
      storeId,
      Array.from({ length: 300 }, (_, i) => ({ op: 'put', key: `k${i * 4}`, value: -i })),
    );
    const feed = await openFeed(env.server, storeId, '?since=100');
    try {
      await feed.waitFor((f) => f.events.some(isReady));
      const ids = changes(feed.events).map((e) => Number(e.id));
      // k0..k1199 at revs 1..1200, then every 4th key rewritten at 1201..1500: live revs > 100 are
      // the untouched keys k25..k1199 (not multiples of 4) and all 300 rewrites.
      const expected = [
        ...Array.from({ length: 1100 }, (_, i) => i + 101).filter((rev) => (rev - 1) % 4 !== 0),
        ...Array.from({ length: 300 }, (_, i) => 1201 + i),
      ];
      expect(ids).toEqual(expected);
      expect(feed.events.at(-1)).toEqual({ event: 'ready', data: { headRev: 1500, heartbeatMs: 500 } });
    } finally {
      feed.close();
    }
  });

  it('starts at the head without since or Last-Event-ID', async () => {
    const storeId = await newStore(env.server);
    for (let i = 0; i < 5; i++) await put(env.server, storeId, `k${i}`, i);
    const feed = await openFeed(env.server, storeId);
    try {
      await feed.waitFor((f) => f.events.some(isReady));
      expect(feed.events).toEqual([{ event: 'ready', data: { headRev: 5, heartbeatMs: 500 } }]);
      const w = await put(env.server, storeId, 'after', true);
      await feed.waitFor((f) => changes(f.events).length === 1);
      expect(changes(feed.events)[0]).toEqual({ event: 'put', id: '6', data: { key: 'after', rev: w.rev, ts: w.ts, kind: 'json', value: true } });
    } finally {
      feed.close();
    }
  });

  it('lets Last-Event-ID win over since', async () => {
    const storeId = await newStore(env.server);
    for (let i = 1; i <= 6; i++) await put(env.server, storeId, `k${i}`, i);
    const later = await openFeed(env.server, storeId, '?since=1', { headers: { 'Last-Event-ID': '4' } });
    const earlier = await openFeed(env.server, storeId, '?since=5', { headers: { 'Last-Event-ID': '2' } });
    try {
      await later.waitFor((f) => f.events.some(isReady));
      await earlier.waitFor((f) => f.events.some(isReady));
      expect(summary(later.events).map(([, key]) => key)).toEqual(['k5', 'k6']);
      expect(summary(earlier.events).map(([, key]) => key)).toEqual(['k3', 'k4', 'k5', 'k6']);
    } finally {
      later.close();
      earlier.close();
    }
  });

  it('refuses a since or Last-Event-ID that is not a rev with a 400 problem', async () => {
    const storeId = await newStore(env.server);
    for (const [query, headers] of [
      ['?since=-1', {}],
      ['?since=abc', {}],
      ['', { 'Last-Event-ID': 'abc' }],
      ['', { 'Last-Event-ID': '-3' }],
    ] as const) {
      const res = await env.server.fetch(`/v1/stores/${storeId}/events${query}`, { headers: { accept: 'text/event-stream', ...headers } });
      expect(res.status, `${query} ${JSON.stringify(headers)}`).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      await res.arrayBuffer();
    }
  });

  it('applies the prefix to the backlog and to live events', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'users/1', 1);
    await put(env.server, storeId, 'posts/1', 1);
    await put(env.server, storeId, 'usersX', 1);
    await put(env.server, storeId, 'users/2', 2);
    await del(env.server, storeId, 'users/1');
    const feed = await openFeed(env.server, storeId, `?since=0&prefix=${encodeURIComponent('users/')}`);
    try {
      await feed.waitFor((f) => f.events.some(isReady));
      expect(summary(feed.events)).toEqual([
        ['put', 'users/2', 4],
        ['delete', 'users/1', 5],
      ]);
      expect(feed.events.find(isReady)!.data).toEqual({ headRev: 5, heartbeatMs: 500 });
      await bulk(env.server, storeId, [
        { op: 'put', key: 'posts/2', value: 2 },
        { op: 'put', key: 'users/3', value: 3 },
        { op: 'put', key: 'user', value: 0 },
      ]);
      await put(env.server, storeId, 'posts/3', 3);
      await put(env.server, storeId, 'users/4', 4);
      await feed.waitFor((f) => changes(f.events).some((e) => e.data.key === 'users/4'));
      expect(summary(feed.events).slice(2)).toEqual([
        ['put', 'users/3', 7],
        ['put', 'users/4', 10],
      ]);
    } finally {
      feed.close();
    }
  });

  it('answers with event-stream, no-cache and no proxy buffering', async () => {
    const storeId = await newStore(env.server);
    const feed = await openFeed(env.server, storeId);
    try {
      expect(feed.status).toBe(200);
      expect(feed.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(feed.headers.get('cache-control')).toBe('no-cache');
      expect(feed.headers.get('x-accel-buffering')).toBe('no');
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
      expect(env.server.keysync.hub.stats().subscribers).toBe(1);
    } finally {
      feed.close();
    }
    await eventually(() => env.server.keysync.hub.stats().subscribers === 0, 5000, 'the feed to detach');
  });
});
