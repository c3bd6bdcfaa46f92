import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeId as deriveStoreId } from '@keysync/protocol';
import type { FrameBatch, LiveRow } from '../../src/live/frames.js';
import { Subscriber, type EndReason, type SubscriberOwner } from '../../src/live/subscriber.js';
import { Tailer } from '../../src/live/tailer.js';
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

describe('a live tailer under concurrent writes', () => {
  it('hands every subscriber each of its commits once, in rev order, while writes land during slow fan-outs', async () => {
    const config = { scope: '00000000-0000-4000-8000-000000000002', name: `fanout-${Math.random()}` };
    const id = deriveStoreId(config);
    await registerStore(db.database.db, id, config, {});
    const tailer = new Tailer(db.database.db, id, 0, (err) => {
      throw err;
    });
    // Three feeds, two sharing one filter (even keys; a batch filters once per filter function);
    // each fan-out costs ~12 ms, as a thousand sockets would.
    const all = new Recorder(4);
    const even = new Recorder(4);
    const even2 = new Recorder(4);
    const evenKeys = (key: string) => Number(key.slice(1)) % 2 === 0;
    for (const [owner, accepts] of [
      [all, () => true],
      [even, evenKeys],
      [even2, evenKeys],
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
    expect(even2.revs).toEqual(even.revs);
    // Writes that landed during a fan-out went out together with the next read.
    expect(all.spans.length).toBeLessThan(N);
  });
});
