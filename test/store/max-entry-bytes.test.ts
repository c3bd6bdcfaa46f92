/**
 * Every write keeps its store's largest value size (stores.max_entry_bytes),
 * as a batch counts it: JSON text in UTF-8 bytes, bytes by their base64
 * length. It only grows, and only with what is written. A handshake cuts
 * batches by count alone when that size cannot fill one (all-served.sql.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ENTRY_SIZE_SQL, entrySize } from '../../src/store/entry-sql.js';
import { applyWrites } from '../../src/store/writes.js';
import { createTestDatabase, registerTestStore, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function largest(storeId: string): Promise<number> {
  const [row] = await db.database.rows<{ max_entry_bytes: number }>('select max_entry_bytes from stores where id = $1', [storeId]);
  return row!.max_entry_bytes;
}

/** What the handshake reads from the rows: the same measure. */
async function measuredInDatabase(storeId: string): Promise<number> {
  const [row] = await db.database.rows<{ size: number }>(`select coalesce(max(${ENTRY_SIZE_SQL}), 0) as size from entries e where store_id = $1`, [storeId]);
  return row!.size;
}

it('measures a value as the database does', () => {
  expect(entrySize('"é"')).toBe(4);
  expect(entrySize('"😀"')).toBe(6);
  expect([0, 1, 2, 3, 4, 5, 6].map((n) => entrySize(new Uint8Array(n)))).toEqual([0, 4, 4, 4, 8, 8, 8]);
});

it('grows with the largest value written and never shrinks', async () => {
  const storeId = await registerTestStore(db);
  const d = db.database.db;
  expect(await largest(storeId)).toBe(0);
  await applyWrites(d, storeId, [{ op: 'put', key: 'a', json: '"ééé"' }]);
  expect(await largest(storeId)).toBe(8);
  await applyWrites(d, storeId, [{ op: 'put', key: 'b', bytes: new Uint8Array(10), contentType: 'application/octet-stream' }]);
  expect(await largest(storeId)).toBe(16);
  expect(await measuredInDatabase(storeId)).toBe(16);
  // Smaller values, deletes and a conditional write leave it; the database's own largest is now smaller.
  await applyWrites(d, storeId, [
    { op: 'put', key: 'b', json: '1' },
    { op: 'delete', key: 'a' },
  ]);
  await applyWrites(d, storeId, [{ op: 'put', key: 'c', json: '2' }], { ifAbsent: true });
  expect(await largest(storeId)).toBe(16);
  expect(await measuredInDatabase(storeId)).toBe(1);
  // A conditional write counts too; a value overwritten within the same call was never written.
  await applyWrites(d, storeId, [{ op: 'put', key: 'c', json: JSON.stringify('x'.repeat(40)) }], { ifMatchRev: 5 });
  expect(await largest(storeId)).toBe(42);
  await applyWrites(d, storeId, [
    { op: 'put', key: 'd', json: JSON.stringify('y'.repeat(100)) },
    { op: 'put', key: 'd', json: '3' },
  ]);
  expect(await largest(storeId)).toBe(42);
});
