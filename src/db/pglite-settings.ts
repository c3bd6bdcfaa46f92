/**
 * PostgreSQL settings of the embedded database (PGlite), passed as start
 * parameters (`-c name=value`) on every open, so they apply to data folders
 * made before a setting changed too.
 *
 * shared_buffers: PostgreSQL's default (128MB) is a cache in front of the data
 * files, but PGlite keeps it in the WebAssembly memory of the Node process,
 * where PostgreSQL initialises all of it at start: 128 MB of resident memory
 * before the first query, for a process that also serves HTTP. The data files
 * are read through the operating system, whose page cache already keeps the
 * hot pages (and gives them back under pressure, which WebAssembly memory
 * never does), so a small buffer pool costs little: 16MB still holds the
 * indexes a sync walks. wal_buffers follows (1/32 of it, PostgreSQL's rule).
 *
 * max_connections: PostgreSQL sizes its shared memory (a process slot,
 * snapshot and lock arrays per allowed connection) for 100 connections by
 * default, and touches it all at start. PGlite runs one backend in single-user
 * mode and can never take a second connection, so one slot is all it uses.
 * The lock table keeps room for the other backend kinds PostgreSQL counts
 * (autovacuum, WAL senders), so large transactions such as migrations still
 * fit. Not configurable: no other value is meaningful here.
 */
import { z } from 'zod';

/** A PostgreSQL memory size: a number with kB, MB or GB (PostgreSQL's units). */
export const PgMemorySize = z.string().regex(/^[1-9]\d*(kB|MB|GB)$/, 'must be a size such as 16MB (units kB, MB, GB)');

export const DEFAULT_PGLITE_SHARED_BUFFERS = '16MB';

export interface PgliteSettings {
  shared_buffers: string;
  max_connections: string;
}

const PGLITE_MAX_CONNECTIONS = '1';

/** The settings from the environment (KEYSYNC_PGLITE_SHARED_BUFFERS), or their defaults. */
export function pgliteSettings(env: NodeJS.ProcessEnv = process.env): PgliteSettings {
  const sharedBuffers = env.KEYSYNC_PGLITE_SHARED_BUFFERS;
  return { shared_buffers: sharedBuffers ? PgMemorySize.parse(sharedBuffers) : DEFAULT_PGLITE_SHARED_BUFFERS, max_connections: PGLITE_MAX_CONNECTIONS };
}

/** `settings` as PostgreSQL start parameters (`-c name=value` each). */
export function startParams(settings: PgliteSettings): string[] {
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}
