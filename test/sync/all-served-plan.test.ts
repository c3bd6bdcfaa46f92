/**
 * A first sync's handshake writes its chunks a window of batches per
 * statement (all-served.sql.ts, pass 2), and each batch must be read by its
 * own range of the rev index: the rows of that batch and no others. Grouped
 * over the window instead, the planner read the whole store through its
 * primary key for every window (a store of 100,000 keys: 26-36 ms per
 * window of 10,000 against 8.5-11 ms). The rev index carries key and
 * deleted, so neither that pass nor pass 1 by count (REVS) reads a row. The
 * plan is taken from the executed statement, rolled back.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { preparedTx } from '../../src/db/prepared.js';
import { applyWrites, type WriteOp } from '../../src/store/writes.js';
import { INSERT_CHUNKS, REVS } from '../../src/sync/all-served.sql.js';
import { createTestDatabase, registerTestStore, type TestDatabase } from '../support/db.js';
import { planRoot, scansOfEntries } from '../support/plans.js';

const KEYS = 3000;
const BATCH = 500;

let db: TestDatabase;
let storeId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  storeId = await registerTestStore(db);
  for (let from = 0; from < KEYS; from += 1000) {
    const ops = Array.from(
      { length: 1000 },
      (_, i): WriteOp => ({ op: 'put', key: `k/${String(from + i).padStart(5, '0')}`, json: JSON.stringify({ i: from + i, pad: 'x'.repeat(900) }) }),
    );
    await applyWrites(db.database.db, storeId, ops);
  }
  // A settled store, as autovacuum leaves a loaded table: its primary key answers index-only.
  await db.database.rows('vacuum (analyze) entries');
});
afterAll(async () => {
  await db?.drop();
});

it('reads each batch of a window by its own range of revs', async () => {
  // Revs 1..3000 in key order; the window's batches begin at revs 501, 1001 and 1501 and end before 2001.
  const begins = [501, 1001, 1501];
  const params = [storeId, '', [], [], randomUUID(), 1, begins, 2001];
  let planned: unknown;
  let chunks: Array<{ cursor: number; n: number; from_rev: string | number; to_rev: string | number }> = [];
  const ROLLBACK = new Error('rollback');
  await db.database.db
    .transaction(async (txRaw) => {
      const query = preparedTx(txRaw as unknown as Db);
      const [row] = await query<{ 'QUERY PLAN': unknown }>(`explain (analyze, format json) ${INSERT_CHUNKS}`, params);
      planned = row!['QUERY PLAN'];
      chunks = await query('select cursor, cardinality(keys) as n, from_rev, to_rev from sync_chunks order by cursor');
      throw ROLLBACK;
    })
    .catch((err: unknown) => {
      if (err !== ROLLBACK) throw err;
    });
  expect(chunks.map((c) => [c.cursor, c.n, Number(c.from_rev), Number(c.to_rev)])).toEqual([
    [1, BATCH, 501, 1000],
    [2, BATCH, 1001, 1500],
    [3, BATCH, 1501, 2000],
  ]);
  const read = scansOfEntries(planRoot(planned));
  expect(read.length).toBe(1);
  expect(read[0]).toMatchObject({
    'Node Type': 'Index Only Scan',
    'Index Name': 'entries_store_rev',
    'Heap Fetches': 0,
    'Actual Loops': begins.length,
    'Actual Rows': BATCH,
  });
});

it('reads the revs of a window from the rev index alone when counting cuts the batches', async () => {
  const [row] = await db.database.rows<{ 'QUERY PLAN': unknown }>(`explain (analyze, format json) ${REVS}`, [storeId, '', [], [], 1000, 2000]);
  const read = scansOfEntries(planRoot(row!['QUERY PLAN']));
  expect(read).toEqual([
    expect.objectContaining({ 'Node Type': 'Index Only Scan', 'Index Name': 'entries_store_rev', 'Heap Fetches': 0, 'Actual Rows': 1000 }),
  ]);
});
