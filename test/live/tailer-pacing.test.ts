import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeId as deriveStoreId } from '../../clients/typescript/src/store-id.js';
import type { FrameBatch, LiveRow } from '../../src/live/frames.js';
import { Subscriber, type EndReason, type SubscriberOwner } from '../../src/live/subscriber.js';
import { FANOUT_SHARE, MAX_GAP_MS, Tailer } from '../../src/live/tailer.js';
import { registerStore } from '../../src/store/stores.js';
import { applyWrites } from '../../src/store/writes.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** A live feed as the tailer sees it, recording the revs it is handed; each fan-out to it costs `costMs` of CPU. */
class Recorder implements SubscriberOwner {
  revs: number[] = [];
  keys: string[] = [];
  /** performance.now() at the start and end of each delivery */
  spans: Array<[number, number]> = [];
  constructor(private readonly costMs: number) {}
  deliver(rows: LiveRow[], _batch: FrameBatch): void {
    const start = performance.now();
    for (const r of rows) this.revs.push(r.rev), this.keys.push(r.key);
    while (performance.now() < start + this.costMs) {
      /* a slow fan-out: many sockets */
    }
    this.spans.push([start, performance.now()]);
  }
  beat(): void {}
  ended(_reason: EndReason): void {}
}

describe('a live tailer paced by its fan-out', () => {
  it('gathers writes that commit during a slow fan-out into fewer reads, never dropping, repeating or reordering one', async () => {
    const config = { scope: '00000000-0000-4000-8000-000000000002', name: `pacing-${Math.random()}` };
    const id = deriveStoreId(config);
    await registerStore(db.database.db, id, config, {});
    const tailer = new Tailer(db.database.db, id, 0, (err) => {
      throw err;
    });
    // Two feeds (one taking only even keys); each fan-out costs ~8 ms, as a thousand sockets would.
    const all = new Recorder(4);
    const even = new Recorder(4);
    for (const [owner, accepts] of [
      [all, () => true],
      [even, (key: string) => Number(key.slice(1)) % 2 === 0],
    ] as const) {
      const sub = new Subscriber(accepts, 1000, owner);
      sub.goLive();
      tailer.subscribers.add(sub);
    }

    // Writers commit one key each, several at a time, waking the tailer after each commit (as the hub does).
    const N = 120;
    let next = 0;
    const writer = async () => {
      while (next < N) {
        const i = next++;
        const [res] = await applyWrites(db.database.db, id, [{ op: 'put', key: `k${i}`, json: String(i) }]);
        tailer.wake(res?.rev);
      }
    };
    await Promise.all([writer(), writer(), writer(), writer()]);
    for (let i = 0; i < 300 && tailer.lastRev < N; i++) await new Promise((r) => setTimeout(r, 10));

    const revs = Array.from({ length: N }, (_, i) => i + 1);
    expect(all.revs).toEqual(revs);
    // The filtered feed gets exactly its keys' revs, in the same order.
    expect(even.revs).toEqual(all.revs.filter((_, i) => Number(all.keys[i]!.slice(1)) % 2 === 0));
    expect(even.revs.length).toBe(N / 2);
    // Coalesced: fewer fan-outs (socket writes) than commits.
    expect(all.spans.length).toBe(tailer.fanouts);
    expect(tailer.fanouts).toBeLessThan(N);
  });

  it('waits after a slow fan-out as long as it took before reading the commits that followed it', async () => {
    const config = { scope: '00000000-0000-4000-8000-000000000002', name: `pacing-${Math.random()}` };
    const id = deriveStoreId(config);
    await registerStore(db.database.db, id, config, {});
    const tailer = new Tailer(db.database.db, id, 0, () => {});
    // A 10 ms fan-out; right after the first one, a write commits and wakes the tailer.
    const owner = new Recorder(10);
    let written: Promise<unknown> | undefined;
    const deliver = owner.deliver.bind(owner);
    owner.deliver = (rows, batch) => {
      deliver(rows, batch);
      written ??= new Promise((r) => setImmediate(r)).then(async () => {
        const [res] = await applyWrites(db.database.db, id, [{ op: 'put', key: 'second', json: '2' }]);
        tailer.wake(res?.rev);
      });
    };
    const sub = new Subscriber(() => true, 1000, owner);
    sub.goLive();
    tailer.subscribers.add(sub);
    await applyWrites(db.database.db, id, [{ op: 'put', key: 'first', json: '1' }]);
    tailer.wake(1);
    for (let i = 0; i < 200 && tailer.lastRev < 2; i++) await new Promise((r) => setTimeout(r, 5));

    expect(owner.revs).toEqual([1, 2]);
    const [first, second] = owner.spans as [[number, number], [number, number]];
    // FANOUT_SHARE 0.5: as long without a fan-out as the fan-out took (unpaced: the write and one read, a few ms).
    expect(FANOUT_SHARE).toBe(0.5);
    expect(second[0] - first[1]).toBeGreaterThanOrEqual(Math.min(first[1] - first[0], MAX_GAP_MS) - 1);
  });

  it('reads at once after a quiet spell: pacing only follows a fan-out, it does not delay the next lone write', async () => {
    const config = { scope: '00000000-0000-4000-8000-000000000002', name: `pacing-${Math.random()}` };
    const id = deriveStoreId(config);
    await registerStore(db.database.db, id, config, {});
    const tailer = new Tailer(db.database.db, id, 0, () => {});
    const owner = new Recorder(0);
    const sub = new Subscriber(() => true, 1000, owner);
    sub.goLive();
    tailer.subscribers.add(sub);
    for (let i = 1; i <= 3; i++) {
      await applyWrites(db.database.db, id, [{ op: 'put', key: `k${i}`, json: String(i) }]);
      tailer.wake(i);
      for (let j = 0; j < 100 && tailer.lastRev < i; j++) await new Promise((r) => setTimeout(r, 2));
      expect(owner.revs).toEqual(Array.from({ length: i }, (_, k) => k + 1));
    }
    expect(tailer.fanouts).toBe(3);
  });
});
