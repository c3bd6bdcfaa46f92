/**
 * The embedded database (PGlite, single-user mode) has no autovacuum; the
 * housekeeping pass does its work (src/db/embedded-vacuum.ts): autovacuum's
 * rules decide per table, a bulk load gets its table vacuumed (its pages
 * marked all-visible) and analyzed, overwrites get their dead rows
 * reclaimed, a quiet store is left alone, and a table whose rows near the
 * freeze age is vacuumed whatever its activity; and a process's first pass
 * (at start) catches up on a load the last process left unvacuumed, which
 * the statistics, reset by the restart, no longer show.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { FREEZE_AGE, maintainEmbedded, maintenanceDue, type TableActivity } from '../../src/db/embedded-vacuum.js';
import { createKeysync } from '../../src/keysync.js';
import { registerStore } from '../../src/store/stores.js';
import { applyWrites } from '../../src/store/writes.js';
import { backend, createTestDatabase, entriesPages, type TestDatabase } from '../support/db.js';
import { tempDir } from '../support/process.js';

const quiet: TableActivity = {
  table: 't',
  live: 10_000,
  dead: 0,
  insertedSinceVacuum: 0,
  modifiedSinceAnalyze: 0,
  xidAge: 1000,
  neverAnalyzed: false,
  pages: 1000,
  allVisiblePages: 1000,
};

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

  it('catches up, on a first pass only, on pages never marked all-visible: past 128 + 20% of the table', () => {
    const loaded = { ...quiet, allVisiblePages: 1000 - 329 };
    expect(maintenanceDue(loaded)).toBeUndefined();
    expect(maintenanceDue(loaded, { catchUp: true })).toBe('vacuum');
    expect(maintenanceDue({ ...loaded, allVisiblePages: 1000 - 328 }, { catchUp: true })).toBeUndefined();
    expect(maintenanceDue(quiet, { catchUp: true })).toBeUndefined();
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
    const { visible: allVisible, pages } = await entriesPages(db.database);
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

describe.runIf(backend === 'pglite')('the embedded database’s first pass after a restart', () => {
  let root: string;
  beforeAll(() => {
    root = tempDir('keysync-vacuum-restart-');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** entriesPages, with the rows inserted since the last VACUUM and when that was, by the statistics. */
  const entriesState = async (database: Database) => {
    const [stats] = await database.rows<{ inserted: number; vacuumed: string | null }>(
      `select n_ins_since_vacuum::int as inserted, last_vacuum::text as vacuumed from pg_stat_user_tables where relname = 'entries'`,
    );
    return { ...stats!, ...(await entriesPages(database)) };
  };

  /** A process writes 20,000 keys under `prefix` and stops before its housekeeping ran. */
  const loadAndStop = async (dataDir: string, storeId: string, prefix: string) => {
    const loader = await createKeysync({ dataDir, log: false, housekeepingMs: 0 });
    await registerStore(loader.database.db, storeId, { scope: storeId }, {});
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ op: 'put' as const, key: `${prefix}/${i}`, json: JSON.stringify({ i, pad: 'x'.repeat(200) }) }));
    await applyWrites(loader.database.db, storeId, rows);
    await loader.close();
  };

  it('vacuums a load the last process left, which the reset statistics no longer show, and runs at start', async () => {
    const dataDir = join(root, 'data');
    const storeId = randomUUID();
    await loadAndStop(dataDir, storeId, 'k');

    // The next process's counters start from zero: autovacuum's rules alone see nothing to vacuum.
    const reopened = await createKeysync({ dataDir, log: false, housekeepingMs: 0 });
    const database = reopened.database;
    if (database.kind !== 'pglite') throw new Error('PGlite only');
    const before = await entriesState(database);
    expect(before.inserted).toBe(0);
    expect(before.pages).toBeGreaterThan(128 / 0.8);
    expect(before.visible).toBe(0);
    expect(await maintainEmbedded(database)).not.toContainEqual({ table: 'entries', did: 'vacuum' });
    // The catalog does: the first pass vacuums it, and every page is all-visible after; a second catch-up finds nothing.
    expect(await maintainEmbedded(database, { catchUp: true })).toContainEqual({ table: 'entries', did: 'vacuum' });
    const after = await entriesState(database);
    expect(after.visible).toBe(after.pages);
    expect(await maintainEmbedded(database, { catchUp: true })).toEqual([]);
    await reopened.close();

    // A server started with its housekeeping on runs that first pass at once, not a minute later. (Unlike the
    // calls above, no ANALYZE of the new rows comes before its VACUUM: without the WAL flush (flushWal) this half stayed unmarked.)
    await loadAndStop(dataDir, storeId, 'm');
    const started = await createKeysync({ dataDir, log: false, housekeepingMs: 3_600_000 });
    try {
      const deadline = Date.now() + 30_000;
      let state = await entriesState(started.database);
      while (state.visible < state.pages && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = await entriesState(started.database);
      }
      expect(state.vacuumed).not.toBeNull();
      expect(state.visible).toBe(state.pages);
    } finally {
      await started.close();
    }
  }, 120_000);
});
