/**
 * Migrations: the change to a store-sharded schema keeps what an existing
 * database holds, and instances started together on an empty PostgreSQL
 * database all come up (they take turns under an advisory lock).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate, migrationsFolder } from '../../src/db/migrate.js';
import { backend, createTestDatabase } from '../support/db.js';

/** The migrations in the folder, counted as migrate.ts counts them: each is applied once. */
const migrationCount = readMigrationFiles({ migrationsFolder: migrationsFolder() }).length;

/** A copy of the migrations folder holding only the first `n` migrations. */
function firstMigrations(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'keysync-migrations-'));
  cpSync(migrationsFolder(), dir, { recursive: true });
  const journalFile = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8'));
  journal.entries = journal.entries.slice(0, n);
  writeFileSync(journalFile, JSON.stringify(journal));
  return dir;
}

async function migrateTo(database: Database, folder: string): Promise<void> {
  if (database.kind === 'pglite') await migratePglite(database.driverDb, { migrationsFolder: folder });
  else await migratePostgres(database.driverDb, { migrationsFolder: folder });
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const STORE = '58c4b668-ca6b-5f9d-8989-3a4a0ff13619';
const OTHER = '11111111-1111-5111-8111-111111111111';
const S1 = '22222222-2222-4222-8222-222222222222';
const S2 = '33333333-3333-4333-8333-333333333333';
const hash = (t: string) => createHash('sha256').update(t).digest('hex');

describe('the store-sharding migration', () => {
  it('keeps stores, entries, sessions with their chunks, and tokens', async () => {
    const { database, drop } = await createTestDatabase({ migrated: false });
    cleanups.push(drop);
    await migrateTo(database, firstMigrations(1));
    const q = database.rows;
    await q(`insert into stores (id, config, head_rev, last_ts_us) values ($1, '{"n":1}', 2, 10), ($2, '{"n":2}', 1, 5)`, [STORE, OTHER]);
    await q(`insert into entries (store_id, key, rev, ts_us, json) values ($1, 'a', 1, 9, '1'), ($1, 'b', 2, 10, '{"x":2}'), ($2, 'a', 1, 5, '3')`, [
      STORE,
      OTHER,
    ]);
    await q(
      `insert into sync_sessions (store_id, id, head_rev, batch_size, "window", total, batches, last_active_us, created_us)
       values ($1, $3, 2, 1, 1, 2, 2, 1, 1), ($2, $4, 1, 1, 1, 1, 1, 1, 1)`,
      [STORE, OTHER, S1, S2],
    );
    await q(`insert into sync_chunks (session_id, cursor, keys) values ($1, 0, '{a}'), ($1, 1, '{b}'), ($2, 0, '{a}')`, [S1, S2]);
    await q(`insert into tokens (store_id, id, hash, scope) values ($1, $2, $3, 'read')`, [STORE, S1, hash('secret')]);

    await migrate(database);

    expect(await q(`select id, head_rev::int as head from stores order by id`)).toEqual([
      { id: OTHER, head: 1 },
      { id: STORE, head: 2 },
    ]);
    expect(await q(`select store_id, key, rev::int as rev, json from entries order by store_id, key`)).toEqual([
      { store_id: OTHER, key: 'a', rev: 1, json: '3' },
      { store_id: STORE, key: 'a', rev: 1, json: '1' },
      { store_id: STORE, key: 'b', rev: 2, json: '{"x":2}' },
    ]);
    expect(await q(`select store_id, session_id, cursor, keys from sync_chunks order by session_id, cursor`)).toEqual([
      { store_id: STORE, session_id: S1, cursor: 0, keys: ['a'] },
      { store_id: STORE, session_id: S1, cursor: 1, keys: ['b'] },
      { store_id: OTHER, session_id: S2, cursor: 0, keys: ['a'] },
    ]);
    expect(await q(`select store_id, id, client from sync_sessions order by id`)).toEqual([
      { store_id: STORE, id: S1, client: null },
      { store_id: OTHER, id: S2, client: null },
    ]);
    // The token is found the new way: with its store.
    expect(await q(`select id from tokens where store_id = $1 and hash = $2`, [STORE, hash('secret')])).toEqual([{ id: S1 }]);
    // Every table is keyed by store_id first.
    const keys = await q<{ table_name: string; cols: string }>(
      `select tc.table_name, string_agg(kcu.column_name, ',' order by kcu.ordinal_position) as cols
       from information_schema.table_constraints tc
       join information_schema.key_column_usage kcu on kcu.constraint_name = tc.constraint_name and kcu.table_name = tc.table_name
       where tc.constraint_type = 'PRIMARY KEY' and tc.table_schema = 'public' group by tc.table_name order by tc.table_name`,
    );
    expect(keys).toEqual([
      { table_name: 'entries', cols: 'store_id,key' },
      { table_name: 'stores', cols: 'id' },
      { table_name: 'sync_chunks', cols: 'store_id,session_id,cursor' },
      { table_name: 'sync_sessions', cols: 'store_id,id' },
      { table_name: 'tokens', cols: 'store_id,id' },
    ]);
    const uniques = await q<{ indexdef: string }>(`select indexdef from pg_indexes where schemaname = 'public' and indexdef like 'CREATE UNIQUE%'`);
    for (const { indexdef } of uniques) expect(indexdef).toMatch(/\((store_id|id)\b/);
  }, 120_000);
});

describe('the batch-cut-by-count migration (0005)', () => {
  it("fills each store's largest value from its entries, has the rev index carry key and deleted, and stores chunk keys uncompressed", async () => {
    const { database, drop } = await createTestDatabase({ migrated: false });
    cleanups.push(drop);
    await migrateTo(database, firstMigrations(5));
    const q = database.rows;
    const EMPTY = '44444444-4444-5444-8444-444444444444';
    await q(`insert into stores (id, config, head_rev) values ($1, '{"n":1}', 4), ($2, '{"n":2}', 1), ($3, '{"n":3}', 0)`, [STORE, OTHER, EMPTY]);
    // JSON counts its UTF-8 bytes ("é" is 2), bytes their base64 length (5 bytes: 8), tombstones nothing.
    await q(
      `insert into entries (store_id, key, rev, ts_us, deleted, json, bytes, content_type) values
         ($1, 'a', 1, 1, false, '"é"', null, null), ($1, 'b', 2, 2, false, null, decode('0102030405', 'hex'), 'application/octet-stream'),
         ($1, 'c', 3, 3, true, null, null, null), ($2, 'a', 1, 1, false, '[1,2]', null, null)`,
      [STORE, OTHER],
    );

    await migrate(database);

    expect(await q(`select id, max_entry_bytes from stores order by id`)).toEqual([
      { id: OTHER, max_entry_bytes: 5 },
      { id: EMPTY, max_entry_bytes: 0 },
      { id: STORE, max_entry_bytes: 8 },
    ]);
    const [rev] = await q<{ indexdef: string }>(`select indexdef from pg_indexes where indexname = 'entries_store_rev'`);
    expect(rev!.indexdef).toMatch(/UNIQUE INDEX entries_store_rev ON public\.entries USING btree \(store_id, rev\) INCLUDE \(key, deleted\)/);
    // A chunk's keys are stored uncompressed ('e': external).
    expect(await q(`select attstorage from pg_attribute where attrelid = 'sync_chunks'::regclass and attname = 'keys'`)).toEqual([{ attstorage: 'e' }]);
  }, 120_000);
});

describe.skipIf(backend !== 'postgres')('instances starting together on an empty database', () => {
  it('all come up: one applies the migrations, the others wait for it', async () => {
    const { url, drop } = await createTestDatabase({ migrated: false });
    cleanups.push(drop);
    const instances = await Promise.all([1, 2, 3].map(() => openDatabase({ databaseUrl: url!, maxConnections: 3 })));
    try {
      const results = await Promise.allSettled(instances.map((d) => migrate(d)));
      expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok']);
      const applied = await instances[0]!.rows<{ n: number }>('select count(*)::int as n from drizzle.__drizzle_migrations');
      expect(applied[0]!.n).toBe(migrationCount);
    } finally {
      await Promise.all(instances.map((d) => d.close()));
    }
  }, 120_000);
});
