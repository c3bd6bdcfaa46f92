/**
 * The embedded database (PGlite, single-user mode) has no autovacuum; the
 * housekeeping pass does its work (src/db/embedded-vacuum.ts): autovacuum's
 * rules decide per table, a bulk load gets its table vacuumed (its pages
 * marked all-visible) and analyzed, overwrites get their dead rows
 * reclaimed, a quiet store is left alone, and a table whose rows near the
 * freeze age is vacuumed whatever its activity.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FREEZE_AGE, maintainEmbedded, maintenanceDue, type TableActivity } from '../../src/db/embedded-vacuum.js';
import { registerStore } from '../../src/store/stores.js';
import { applyWrites } from '../../src/store/writes.js';
import { backend, createTestDatabase, type TestDatabase } from '../support/db.js';

const quiet: TableActivity = { table: 't', live: 10_000, dead: 0, insertedSinceVacuum: 0, modifiedSinceAnalyze: 0, xidAge: 1000, neverAnalyzed: false };

describe('what autovacuum would do', () => {
  it('follows PostgreSQL’s default thresholds', () => {
    expect(maintenanceDue(quiet)).toBeUndefined();
    // Dead rows: 50 + 20% of the live ones.
    expect(maintenanceDue({ ...quiet, dead: 2050 })).toBeUndefined();
    expect(maintenanceDue({ ...quiet, dead: 2051 })).toBe('vacuum');
    // Rows inserted since the last vacuum: 1000 + 20% of the live ones.
    expect(maintenanceDue({ ...quiet, insertedSinceVacuum: 3000 })).toBeUndefined();
    expect(maintenanceDue({ ...quiet, insertedSinceVacuum: 3001 })).toBe('vacuum');
    // Changes since the last analyze: 50 + 10%; or never analyzed at all.
    expect(maintenanceDue({ ...quiet, modifiedSinceAnalyze: 1050 })).toBeUndefined();
    expect(maintenanceDue({ ...quiet, modifiedSinceAnalyze: 1051 })).toBe('analyze');
    expect(maintenanceDue({ ...quiet, neverAnalyzed: true })).toBe('analyze');
    // Rows near the freeze age: vacuumed (and so frozen) even when nothing else is due.
    expect(maintenanceDue({ ...quiet, xidAge: FREEZE_AGE })).toBeUndefined();
    expect(maintenanceDue({ ...quiet, xidAge: FREEZE_AGE + 1 })).toBe('vacuum');
  });
});

describe.runIf(backend === 'pglite')('the embedded database’s housekeeping', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const lastVacuum = async (table: string) =>
    (
      await db.database.rows<{ vacuumed: string | null; analyzed: string | null }>(
        `select last_vacuum::text as vacuumed, last_analyze::text as analyzed from pg_stat_user_tables where relname = $1`,
        [table],
      )
    )[0]!;

  /** Pages of `entries` the visibility map has all-visible, and all its pages. */
  const visible = async () =>
    (
      await db.database.rows<{ visible: number; pages: number }>(`select relallvisible as visible, relpages as pages from pg_class where relname = 'entries'`)
    )[0]!;

  it('vacuums and analyzes a bulk-loaded table, vacuums one with many dead rows, and leaves a quiet one alone', async () => {
    const database = db.database;
    if (database.kind !== 'pglite') throw new Error('PGlite only');
    const storeId = randomUUID();
    await registerStore(database.db, storeId, { scope: storeId }, {});
    const keys = Array.from({ length: 5000 }, (_, i) => `k/${i}`);
    await applyWrites(
      database.db,
      storeId,
      keys.map((key) => ({ op: 'put', key, json: '1' })),
    );
    // First pass: the load (5000 rows inserted, past 1000 + 20% of 5000) is vacuumed, which marks its pages
    // all-visible for index-only reads, and analyzed.
    expect(await maintainEmbedded(database)).toContainEqual({ table: 'entries', did: 'vacuum' });
    expect(await lastVacuum('entries')).toEqual({ vacuumed: expect.any(String), analyzed: expect.any(String) });
    const { visible: allVisible, pages } = await visible();
    expect(pages).toBeGreaterThan(0);
    expect(allVisible).toBe(pages);
    // Nothing new: nothing to do.
    expect(await maintainEmbedded(database)).toEqual([]);

    // Overwrite every key: 5000 dead rows, past 50 + 20% of 5000.
    await applyWrites(
      database.db,
      storeId,
      keys.map((key) => ({ op: 'put', key, json: '2' })),
    );
    expect(await maintainEmbedded(database)).toContainEqual({ table: 'entries', did: 'vacuum' });
    expect((await lastVacuum('entries')).vacuumed).not.toBeNull();
    const [after] = await database.rows<{ dead: number }>(`select n_dead_tup::int as dead from pg_stat_user_tables where relname = 'entries'`);
    expect(after!.dead).toBe(0);
    expect(await maintainEmbedded(database)).toEqual([]);
  });
});
