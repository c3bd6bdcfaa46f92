import { describe, expect, it } from 'vitest';
import { bulk, newStore } from '../support/http.js';
import { openFeed, type FeedEvent } from '../support/sse.js';
import { eventually } from '../support/eventually.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer({ limits: { subscriberQueue: 50 } });

const WRITES = 2000;
const PER_CALL = 20; // below the queue limit: one commit alone never overflows a reader that keeps up
// ~6 KiB per event, 12 MiB in all: far more than the loopback socket buffers hold for a reader that stopped.
const PAD = 'x'.repeat(6 * 1024);

const changes = (events: FeedEvent[]) => events.filter((e) => e.event === 'put' || e.event === 'delete');

describe('a subscriber that stops reading', () => {
  it('is disconnected while the others receive everything, and catches up on reconnect losing nothing', async () => {
    const storeId = await newStore(env.server);
    const fast = await openFeed(env.server, storeId, '?since=0');
    const slow = await openFeed(env.server, storeId, '?since=0');
    await fast.waitFor((f) => f.events.some((e) => e.event === 'ready'));
    await slow.waitFor((f) => f.events.some((e) => e.event === 'ready'));
    expect(env.server.keysync.hub.stats().subscribers).toBe(2);
    slow.pause();

    for (let start = 0; start < WRITES; start += PER_CALL) {
      await bulk(
        env.server,
        storeId,
        Array.from({ length: PER_CALL }, (_, i) => ({ op: 'put', key: `k${String(start + i).padStart(4, '0')}`, value: { i: start + i, pad: PAD } })),
      );
      // Lockstep with the reader that keeps up, so a busy test machine cannot make *it* fall 50 behind.
      await fast.waitFor((f) => changes(f.events).length >= start + PER_CALL, 10_000);
    }

    // The reader that keeps up gets every write, in order, and stays connected.
    await fast.waitFor((f) => changes(f.events).length >= WRITES, 20_000);
    expect(changes(fast.events).map((e) => Number(e.id))).toEqual(Array.from({ length: WRITES }, (_, i) => i + 1));
    expect(fast.isClosed()).toBe(false);

    // The stalled one is dropped by the server without waiting for it to read.
    await eventually(() => env.server.keysync.hub.stats().subscribers === 1, 5000, 'the slow subscriber to be dropped');
    slow.resume();
    await slow.ended;
    const firstLeg = changes(slow.events);
    expect(firstLeg.length).toBeLessThan(WRITES);
    const firstIds = firstLeg.map((e) => Number(e.id));
    expect(firstIds).toEqual(Array.from({ length: firstIds.length }, (_, i) => i + 1));

    // Reconnecting with its Last-Event-ID catches up from the database.
    const lastId = slow.lastId ?? '0';
    expect(Number(lastId)).toBe(firstIds.at(-1) ?? 0);
    const again = await openFeed(env.server, storeId, '', { headers: { 'last-event-id': lastId } });
    try {
      await again.waitFor((f) => f.events.some((e) => e.event === 'ready'), 20_000);
      const secondIds = changes(again.events).map((e) => Number(e.id));
      expect([...firstIds, ...secondIds]).toEqual(Array.from({ length: WRITES }, (_, i) => i + 1));
      expect(again.events.find((e) => e.event === 'ready')!.data).toEqual({ headRev: WRITES, heartbeatMs: 500 });
      for (const e of changes(again.events).slice(0, 3)) expect(e.data.value).toEqual({ i: Number(e.id) - 1, pad: PAD });
    } finally {
      again.close();
      fast.close();
    }
    await eventually(() => env.server.keysync.hub.stats().subscribers === 0, 5000, 'all subscribers to leave');
  });
});

describe('a subscriber that keeps up', () => {
  it('is not dropped by one write larger than its queue', async () => {
    const storeId = await newStore(env.server);
    const feed = await openFeed(env.server, storeId);
    try {
      await feed.waitFor((f) => f.events.some((e) => e.event === 'ready'));
      // One atomic write of 120 ops: more than the queue of 50, but the reader has nothing pending.
      await bulk(
        env.server,
        storeId,
        Array.from({ length: 120 }, (_, i) => ({ op: 'put', key: `big/${i}`, value: i })),
      );
      await feed.waitFor((f) => changes(f.events).length >= 120 || f.isClosed());
      expect(feed.isClosed()).toBe(false);
      await bulk(
        env.server,
        storeId,
        Array.from({ length: 120 }, (_, i) => ({ op: 'put', key: `big/${i}`, value: -i })),
      );
      await feed.waitFor((f) => changes(f.events).length >= 240 || f.isClosed());
      expect(feed.isClosed()).toBe(false);
      expect(changes(feed.events).map((e) => Number(e.id))).toEqual(Array.from({ length: 240 }, (_, i) => i + 1));
      expect(env.server.keysync.hub.stats().subscribers).toBe(1);
    } finally {
      feed.close();
    }
  });
});
