/**
 * The embedded database's start template: a migrated PGlite data folder,
 * dumped at build time (scripts/pglite-template.ts) to dist/pglite-template.tar.
 * A new data folder is loaded from it instead of running initdb and every
 * migration in WASM (seconds on a small machine); start-up then applies only
 * the migrations added since the build. Without the file (no build yet), a
 * new folder is initialised the slow way.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Database } from './client.js';
import { migrationsFolder } from './migrate.js';

export const PGLITE_TEMPLATE_FILE = join(dirname(migrationsFolder()), 'dist', 'pglite-template.tar');

/** The template for `dataDir` when the folder is new (missing, or holding only our lock file), else undefined. */
export function templateForNewFolder(dataDir: string, templateFile = PGLITE_TEMPLATE_FILE): Blob | undefined {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return undefined;
  // Anything but our own lock file means someone else's folder: let PGlite decide.
  if (existsSync(dataDir) && readdirSync(dataDir).some((name) => name !== 'keysync.lock')) return undefined;
  if (!existsSync(templateFile)) return undefined;
  return new Blob([readFileSync(templateFile)]);
}

/** The data folder of an open PGlite database as an uncompressed tar. */
export async function dumpPglite(database: Database): Promise<Buffer> {
  if (database.kind !== 'pglite') throw new Error('only an embedded (PGlite) database can be dumped');
  const client = (database.db as unknown as { $client: { dumpDataDir(compression: 'none'): Promise<Blob> } }).$client;
  return Buffer.from(await (await client.dumpDataDir('none')).arrayBuffer());
}
