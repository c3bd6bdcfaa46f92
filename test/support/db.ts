/**
 * A fresh database per test file: PGlite in memory by default, or a new
 * database on the server named by TEST_DATABASE_URL (created here, dropped
 * by `drop`). Tests never depend on leftovers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { registerStore } from '../../src/store/stores.js';

export const backend: 'postgres' | 'pglite' = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';

export interface TestDatabase {
  database: Database;
  /** a URL for a second connection (postgres only) */
  url?: string;
  drop(): Promise<void>;
}

/** `migrated: false`: no tables yet (for tests of the migrations themselves). */
export async function createTestDatabase({ migrated = true }: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const template = migrated ? inject('pgliteTemplate') : undefined;
    const database = await openDatabase(template ? { pgliteTemplate: template } : {});
    if (migrated) await migrate(database);
    return { database, drop: () => database.close() };
  }
  const name = `keysync_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  // KEYSYNC_SQL_CAPTURE: every statement of the run goes to that file (test/scale/store-scope.test.ts checks it).
  const database = await openDatabase({ databaseUrl: url.toString(), maxConnections: 10, captureFile: process.env.KEYSYNC_SQL_CAPTURE });
  if (migrated) await migrate(database);
  return {
    database,
    url: url.toString(),
    async drop() {
      await database.close().catch(() => {});
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** Registers a store of its own (a fresh config, no options) on `db`, past any server; returns its id. */
export async function registerTestStore(db: TestDatabase): Promise<string> {
  const storeId = randomUUID();
  await registerStore(db.database.db, storeId, { scope: storeId }, {});
  return storeId;
}

/**
 * The pages of `entries` now, and how many its last VACUUM or ANALYZE found
 * all-visible (pg_class.relallvisible): what lets a comparison read the
 * primary key alone (src/db/embedded-vacuum.ts).
 */
export async function entriesPages(database: Database): Promise<{ pages: number; visible: number }> {
  const [row] = await database.rows<{ pages: number; visible: number }>(
    `select (pg_relation_size(oid) / current_setting('block_size')::int)::int as pages, relallvisible as visible from pg_class where relname = 'entries'`,
  );
  return row!;
}
