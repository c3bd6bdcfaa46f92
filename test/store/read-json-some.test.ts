/**
 * readJsonSome (src/store/reads.ts), the walk's reads of values by key list:
 * live keys only, each once however often it is asked for, in key order up
 * to a byte budget (the first key always), the rest left `unread`; byte
 * values come back as null.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonSome } from '../../src/store/reads.js';
import { applyWrites } from '../../src/store/writes.js';
import { createTestDatabase, registerTestStore, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let storeId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  storeId = await registerTestStore(db);
  await applyWrites(db.database.db, storeId, [
    { op: 'put', key: 'a', json: `"${'x'.repeat(98)}"` },
    { op: 'put', key: 'b', json: `"${'y'.repeat(98)}"` },
    { op: 'put', key: 'c', bytes: new Uint8Array([1, 2, 3]), contentType: 'image/png' },
    { op: 'put', key: 'd', json: '{"n":1}' },
    { op: 'put', key: 'gone', json: '1' },
    { op: 'delete', key: 'gone' },
  ]);
});
afterAll(async () => {
  await db?.drop();
});

describe('readJsonSome', () => {
  it('reads every live key asked for, once, within the budget', async () => {
    const { texts, unread } = await readJsonSome(db.database.db, storeId, ['d', 'a', 'gone', 'never', 'c', 'a', 'b'], 10_000);
    expect([...texts.entries()].sort()).toEqual([
      ['a', `"${'x'.repeat(98)}"`],
      ['b', `"${'y'.repeat(98)}"`],
      ['c', null],
      ['d', '{"n":1}'],
    ]);
    expect(unread).toEqual([]);
  });

  it('stops in key order once the values pass the budget, always reading the first', async () => {
    const first = await readJsonSome(db.database.db, storeId, ['b', 'a', 'd'], 10);
    expect([...first.texts.keys()]).toEqual(['a']);
    expect(first.unread.sort()).toEqual(['b', 'd']);
    const two = await readJsonSome(db.database.db, storeId, ['b', 'a', 'd', 'a'], 150);
    expect([...two.texts.keys()].sort()).toEqual(['a']);
    expect(two.unread.sort()).toEqual(['b', 'd']);
    const all = await readJsonSome(db.database.db, storeId, ['b', 'a', 'd'], 207);
    expect([...all.texts.keys()].sort()).toEqual(['a', 'b', 'd']);
  });
});
