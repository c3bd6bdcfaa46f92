/**
 * IndexedDBStore in Node on fake-indexeddb (an in-memory IndexedDB that
 * follows the spec's transaction rules): the shared LocalStore contract, and
 * what only this store does: one transaction per batch and checkpoint, and
 * commits announced to the other "tabs" (instances) on the same database.
 * The same contract runs in real Chromium in test/browser/.
 */
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { IndexedDBStore } from '../src/stores/indexeddb.js';
import { del, describeLocalStore, put } from './support/local-store-contract.js';

let n = 0;
const factory = new IDBFactory();

describeLocalStore('IndexedDBStore', async () => {
  const name = `contract-${++n}`;
  const store = await IndexedDBStore.open(name, { indexedDB: factory });
  return {
    store,
    reopen: async () => {
      await store.close();
      return IndexedDBStore.open(name, { indexedDB: factory });
    },
  };
});

describe('IndexedDBStore', () => {
  it('leaves neither records nor checkpoint behind when the batch transaction aborts', async () => {
    const name = `abort-${++n}`;
    const store = await IndexedDBStore.open(name, { indexedDB: factory });
    await store.applyBatch([put('a', 1)], { checkpoint: 1 });
    // A record IndexedDB cannot clone fails the put, which aborts the whole transaction.
    const bad = { ...put('b', 2), value: () => undefined };
    await expect(store.applyBatch([put('c', 3), bad], { checkpoint: 3 })).rejects.toThrow();
    expect(await store.get('c')).toBeUndefined();
    expect(await store.getCheckpoint()).toBe(1);
    await store.close();
  });

  it('tells the other instances on the same database what changed, and only that', async () => {
    const name = `tabs-${++n}`;
    const one = await IndexedDBStore.open(name, { indexedDB: factory });
    const two = await IndexedDBStore.open(name, { indexedDB: factory });
    const seenByTwo: Array<{ keys: string[]; remote: boolean }> = [];
    const seenByOne: Array<{ keys: string[]; remote: boolean }> = [];
    two.onChange((records, { remote }) => seenByTwo.push({ keys: records.map((r) => r.key), remote }));
    one.onChange((records, { remote }) => seenByOne.push({ keys: records.map((r) => r.key), remote }));
    await one.applyBatch([put('a', 1), put('b', 2)], { checkpoint: 2 });
    await one.applyBatch([put('a', 1)]); // stale: no change, no message
    await one.applyBatch([del('b', 3)]);
    await expect
      .poll(() => seenByTwo)
      .toEqual([
        { keys: ['a', 'b'], remote: true },
        { keys: ['b'], remote: true },
      ]);
    expect(seenByOne).toEqual([
      { keys: ['a', 'b'], remote: false },
      { keys: ['b'], remote: false },
    ]);
    expect(await two.get('b')).toEqual(del('b', 3));
    expect(await two.getCheckpoint()).toBe(2);
    await one.close();
    await two.close();
  });

  it('keeps bytes as Uint8Array with their content type across a reopen', async () => {
    const name = `bytes-${++n}`;
    const store = await IndexedDBStore.open(name, { indexedDB: factory });
    const bytes = new Uint8Array([0, 1, 2, 255]);
    await store.applyBatch([{ kind: 'bytes', key: 'img', rev: 1, ts: 't', bytes, contentType: 'image/png' }]);
    await store.close();
    const again = await IndexedDBStore.open(name, { indexedDB: factory });
    const r = await again.get('img');
    expect(r).toEqual({ kind: 'bytes', key: 'img', rev: 1, ts: 't', bytes, contentType: 'image/png' });
    expect(r?.kind === 'bytes' && r.bytes).toBeInstanceOf(Uint8Array);
    await again.close();
  });
});
