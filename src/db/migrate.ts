/**
 * Applies the SQL migrations in `migrations/` (written by drizzle-kit) at
 * start-up. The folder is found from the package root, not from this file,
 * so it works from `src/` (tsx) and from `dist/` alike.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { Database } from './client.js';

export function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'migrations'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the migrations folder');
    dir = parent;
  }
  return join(dir, 'migrations');
}

/**
 * Applies what is missing. Instances starting together take turns under a
 * cluster-wide lock: the first applies, the others then find nothing to do
 * (drizzle's migrator alone would run the same CREATE TABLE on each).
 */
export async function migrate(database: Database): Promise<void> {
  const config = { migrationsFolder: migrationsFolder() };
  await database.withLock('migrate', async () => {
    // Each driver has its own migrator; both take the same folder.
    if (database.kind === 'pglite') await migratePglite(database.driverDb, config);
    else await migratePostgres(database.driverDb, config);
  });
}

/** True when every migration in the folder has been applied. */
export async function migrationsApplied(database: Database): Promise<boolean> {
  try {
    const rows = await database.rows<{ n: string | number }>('select count(*) as n from drizzle.__drizzle_migrations');
    const { readMigrationFiles } = await import('drizzle-orm/migrator');
    return Number(rows[0]?.n ?? 0) >= readMigrationFiles({ migrationsFolder: migrationsFolder() }).length;
  } catch {
    return false;
  }
}
