import { describe, expect, it } from 'vitest';
import { bulk, newStore, put } from '../support/http.js';
import { openFeed, type FeedEvent, type Frame } from '../support/sse.js';
import { TEST_LIMITS, useTestServer } from '../support/server.js';

const env = useTestServer();

const changes = (events: FeedEvent[]) => events.filter((e) => e.event === 'put' || e.event === 'delete');
const pings = (feed: { frames: Frame[] }) => feed.frames.filter((f) => f.comments.includes('ping'));

describe('heartbeats', () => {
  it('keep a quiet feed alive with a ping comment and an id line at the head', async () => {
    expect(TEST_LIMITS.heartbeatMs).toBe(500);
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'a', 1);
    await put(env.server, storeId, 'b', 2);
    const feed = await openFeed(env.server, storeId);
    try {
      const opened = Date.now();
      await feed.waitFor((f) => pings(f).length >= 2, 5000);
      // two beats of 500 ms: not sooner than ~1 s, and not wildly later
      expect(Date.now() - opened).toBeGreaterThanOrEqual(900);
      expect(Date.now() - opened).toBeLessThan(4000);
      for (const frame of pings(feed)) expect(frame.raw).toBe(': ping\nid: 2');
      expect(feed.lastId).toBe('2');
      expect(changes(feed.events)).toEqual([]);

      // The harness reader sees the same: comments and the id of id-only frames.
      const sse = await openFeed(env.server, storeId);
      try {
        await sse.waitFor(() => sse.comments.length >= 1, 5000);
        expect(sse.comments[0]!.trim()).toBe('ping');
        expect(sse.lastId).toBe('2');
      } finally {
        sse.close();
      }
    } finally {
      feed.close();
    }
  });

  it('move a filtered feed that matches nothing up to the head, so a reconnect has no stale backlog', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'seed', 0);
    const feed = await openFeed(env.server, storeId, '?since=1&prefix=nothing%2F');
    let head = 0;
    try {
      await feed.waitFor((f) => f.events.some((e) => e.event === 'ready'));
      for (let i = 0; i < 10; i++) head = (await put(env.server, storeId, `other/${i}`, i)).rev;
      head = (
        await bulk(
          env.server,
          storeId,
          Array.from({ length: 30 }, (_, i) => ({ op: 'put', key: `bulk/${i}`, value: i })),
        )
      ).at(-1)!.rev;
      expect(head).toBe(41);
      await feed.waitFor((f) => f.lastId === String(head), 5000);
      expect(changes(feed.events)).toEqual([]);
      expect(pings(feed).at(-1)!.raw).toBe(`: ping\nid: ${head}`);
    } finally {
      feed.close();
    }

    // Reconnecting with that id: nothing stale, whether or not the filter is repeated.
    for (const query of ['?prefix=nothing%2F', '']) {
      const again = await openFeed(env.server, storeId, query, { headers: { 'Last-Event-ID': feed.lastId! } });
      try {
        await again.waitFor((f) => f.events.some((e) => e.event === 'ready'));
        expect(changes(again.events)).toEqual([]);
        expect(again.events.find((e) => e.event === 'ready')!.data).toEqual({ headRev: head, heartbeatMs: 500 });
      } finally {
        again.close();
      }
    }
  });

  it('only ever raise the id of a partly matching filtered feed, and keep delivering its matches', async () => {
    const storeId = await newStore(env.server);
    const feed = await openFeed(env.server, storeId, '?prefix=a%2F');
    try {
      await feed.waitFor((f) => f.events.some((e) => e.event === 'ready'));
      await put(env.server, storeId, 'b/1', 1); // 1
      await put(env.server, storeId, 'a/1', 1); // 2
      await put(env.server, storeId, 'b/2', 1); // 3
      await feed.waitFor((f) => f.lastId === '3', 5000);
      expect(changes(feed.events).map((e) => e.id)).toEqual(['2']);
      // Ids only ever grow, across events and heartbeats.
      const ids = feed.frames.filter((f) => f.id !== undefined).map((f) => Number(f.id));
      for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThanOrEqual(ids[i - 1]!);
      await put(env.server, storeId, 'a/2', 2); // 4
      await feed.waitFor((f) => changes(f.events).length === 2);
      expect(changes(feed.events)[1]).toMatchObject({ event: 'put', id: '4', data: { key: 'a/2', value: 2 } });
    } finally {
      feed.close();
    }
  });
});
