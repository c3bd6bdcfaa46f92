import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeId as deriveStoreId } from '@keysync/protocol';
import { Subscriber } from '../../src/live/subscriber.js';
import { Tailer } from '../../src/live/tailer.js';
import { purgeTombstones } from '../../src/store/purge.js';
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

/** Runs one tailer read and waits until it is done. */
async function drained(tailer: Tailer, upTo: number): Promise<void> {
  tailer.wake();
  for (let i = 0; i < 200 && tailer.lastRev < upTo; i++) await new Promise((r) => setTimeout(r, 10));
}

describe('a live tailer', () => {
  it('ends its feeds when a purge removed tombstones it had not read yet, so no delete is silently lost', async () => {
    const config = { scope: '00000000-0000-4000-8000-000000000001', name: `tailer-${Math.random()}` };
    const id = deriveStoreId(config);
    await registerStore(db.database.db, id, config, {});
    await applyWrites(db.database.db, id, [{ op: 'put', key: 'a', json: '1' }]);

    const tailer = new Tailer(db.database.db, id, 1, () => {});
    const subscriber = new Subscriber(() => true, 100);
    tailer.subscribers.add(subscriber);

    // The tailer falls behind: a key is written and deleted, and the tombstone
    // is purged (retention 0) before the tailer reads anything.
    await applyWrites(db.database.db, id, [{ op: 'put', key: 'b', json: '2' }]);
    await applyWrites(db.database.db, id, [{ op: 'delete', key: 'b' }]);
    await applyWrites(db.database.db, id, [{ op: 'put', key: 'c', json: '3' }]);
    expect(await purgeTombstones(db.database.db, 0)).toBe(1);

    await drained(tailer, 4);
    expect(tailer.lastRev).toBe(4);
    expect(subscriber.ended).toBe('lagged');
  });

  it('keeps its feeds when every purged tombstone was already read', async () => {
    const config = { scope: '00000000-0000-4000-8000-000000000001', name: `tailer-${Math.random()}` };
    const id = deriveStoreId(config);
    await registerStore(db.database.db, id, config, {});
    await applyWrites(db.database.db, id, [{ op: 'put', key: 'a', json: '1' }]);
    await applyWrites(db.database.db, id, [{ op: 'delete', key: 'a' }]);

    const tailer = new Tailer(db.database.db, id, 0, () => {});
    const subscriber = new Subscriber(() => true, 100);
    tailer.subscribers.add(subscriber);
    await drained(tailer, 2);
    expect(await purgeTombstones(db.database.db, 0)).toBe(1);

    await applyWrites(db.database.db, id, [{ op: 'put', key: 'b', json: '2' }]);
    await drained(tailer, 3);
    expect(tailer.lastRev).toBe(3);
    expect(subscriber.ended).toBeUndefined();
    expect(subscriber.take().map((r) => r.rev)).toEqual([2, 3]);
  });
});
