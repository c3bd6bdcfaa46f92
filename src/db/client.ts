/**
 * Opens the database: PostgreSQL through postgres.js when a URL is given,
 * otherwise PGlite (PostgreSQL in WASM) in a local folder. Both get the same
 * drizzle schema, the same migrations and the same SQL.
 */
import { appendFileSync, mkdirSync, openAsBlob } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import { drizzle as drizzlePglite, type PgliteDatabase } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { pgliteSettings, startParams as pgliteStartParams } from './pglite-settings.js';
import type { Db } from './db-type.js';
import { preparedDb } from './prepared.js';
import { schema } from './schema.js';
import { unpackTemplate, type PgliteTemplate } from './template.js';

export type { Db };

/** Payload listener for a NOTIFY channel; returns a function that stops it. */
export type Listen = (channel: string, onPayload: (payload: string) => void) => Promise<() => Promise<void>>;

/** The open database: PostgreSQL or PGlite, told apart by `kind`. */
export type Database = PostgresDatabase | EmbeddedDatabase;

export interface PostgresDatabase extends DatabaseParts {
  kind: 'postgres';
  /** `db` with its driver's own type, for what takes one driver only (its migrator) */
  driverDb: PostgresJsDatabase<typeof schema>;
}

export interface EmbeddedDatabase extends DatabaseParts {
  kind: 'pglite';
  /** `db` with its driver's own type, for what takes one driver only (its migrator, the PGlite client) */
  driverDb: PgliteDatabase<typeof schema> & { $client: PGlite };
}

/** What both kinds offer. */
interface DatabaseParts {
  db: Db;
  listen: Listen;
  /**
   * How many listeners `channel` has, when the database can know them all
   * (PGlite: every listener is in this process); undefined on PostgreSQL,
   * where other processes listen.
   */
  listenerCount(channel: string): number | undefined;
  /** Runs raw SQL and returns the rows (used for the few statements drizzle can't build). */
  rows<T>(query: string, params?: unknown[]): Promise<T[]>;
  /**
   * Runs `fn` holding the cluster-wide lock `name` (a PostgreSQL advisory lock
   * on a connection of its own), waiting for it. PGlite serves one process
   * (its data folder is locked), so there `fn` just runs.
   */
  withLock<T>(name: LockName, fn: () => Promise<T>): Promise<T>;
  /** Like withLock, but does not wait: undefined (and `fn` not run) when another instance holds the lock. */
  tryLock<T>(name: LockName, fn: () => Promise<T>): Promise<T | undefined>;
  /** Connections of this instance's pool as PostgreSQL reports them (pg_stat_activity); undefined on PGlite. */
  poolStats(): Promise<PoolStats | undefined>;
  close(): Promise<void>;
}

export interface PoolStats {
  /** the pool's size (KEYSYNC_DB_POOL) */
  max: number;
  /** connections open */
  open: number;
  /** connections running a statement or inside a transaction */
  busy: number;
}

/** Cluster-wide locks: migrations (all instances wait) and housekeeping (one instance at a time). */
export type LockName = 'migrate' | 'housekeeping';
/** The advisory lock keys: (class, object) pairs, class 'keys' in ASCII. */
const LOCK_KEYS: Record<LockName, [number, number]> = { migrate: [0x6b657973, 1], housekeeping: [0x6b657973, 2] };

export interface OpenOptions {
  databaseUrl?: string;
  dataDir?: string;
  /** PGlite only: start from this data-folder dump (PGlite.dumpDataDir, or its file) instead of initdb */
  pgliteTemplate?: PgliteTemplate;
  /** postgres.js pool size (KEYSYNC_DB_POOL) */
  maxConnections?: number;
  /**
   * Appends every statement sent to PostgreSQL, with its parameters, as a
   * JSON line to this file (tests check that each touches one store).
   */
  captureFile?: string;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  return opts.databaseUrl
    ? openPostgres(opts.databaseUrl, opts.maxConnections ?? DEFAULT_POOL, opts.captureFile)
    : openPglite(opts.dataDir, opts.pgliteTemplate);
}

export const DEFAULT_POOL = 10;

function openPostgres(url: string, max: number, captureFile: string | undefined): PostgresDatabase {
  // Fail fast while the database is down so requests answer 503 instead of hanging.
  // postgres.js waits 3^n/100 s (up to 20 s, n shared by the pool) before reconnecting after
  // failures, so requests hung long after an outage ended: retry within half a second instead.
  const backoff = (retries: number) => Math.min(0.02 * 2 ** retries, 0.5) * (0.5 + Math.random() / 2);
  // The application name tells this instance's connections apart in pg_stat_activity (poolStats).
  const applicationName = `keysync-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const capture = captureFile
    ? (_connection: number, query: string, parameters: unknown[]) => appendFileSync(captureFile, JSON.stringify({ query, parameters }) + '\n')
    : undefined;
  const pg = postgres(url, {
    max,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 60,
    backoff,
    connection: { application_name: applicationName },
    ...(capture ? { debug: capture } : {}),
  });
  const driverDb = drizzlePostgres(pg, { schema });
  const db: Db = driverDb;
  const locked = async <T>(name: LockName, wait: boolean, fn: () => Promise<T>): Promise<T | undefined> => {
    const [a, b] = LOCK_KEYS[name];
    // A lock of its own connection: held until released, or until the connection dies with the process.
    const conn = await pg.reserve();
    try {
      if (wait) await conn`select pg_advisory_lock(${a}::int, ${b}::int)`;
      else if (!(await conn`select pg_try_advisory_lock(${a}::int, ${b}::int) as ok`)[0]!.ok) return undefined;
      try {
        return await fn();
      } finally {
        await conn`select pg_advisory_unlock(${a}::int, ${b}::int)`;
      }
    } finally {
      conn.release();
    }
  };
  return {
    db,
    kind: 'postgres',
    driverDb,
    async listen(channel, onPayload) {
      const sub = await pg.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    listenerCount: () => undefined,
    rows: preparedDb(db).query,
    withLock: (name, fn) => locked(name, true, fn) as Promise<never>,
    tryLock: (name, fn) => locked(name, false, fn),
    async poolStats() {
      const [row] = await pg<{ open: number; busy: number }[]>`select count(*)::int as open,
        (count(*) filter (where state <> 'idle'))::int - 1 as busy
        from pg_stat_activity where application_name = ${applicationName}`;
      // The statement itself holds one connection; it is not counted as busy.
      return { max, open: row!.open, busy: Math.max(0, row!.busy) };
    },
    close: () => pg.end({ timeout: 5 }),
  };
}

/**
 * bytea to and from PGlite's text form (`\x` and hex) by node:buffer.
 * PGlite's own converters parse each pair of hex digits with parseInt and
 * write each byte with toString(16): reading a stored value of 8 MB took
 * 408-503 ms (most of a GET), a digest fold's 240 KB of records 15 ms a step.
 */
const BYTEA_PARSERS = {
  [types.BYTEA]: (text: string): Uint8Array => {
    const bytes = Buffer.from(text.slice(2), 'hex');
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
};
const BYTEA_SERIALIZERS = {
  [types.BYTEA]: (value: unknown): string => {
    if (!(value instanceof Uint8Array)) throw new TypeError('a bytea parameter must be a Uint8Array');
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  },
};

async function openPglite(dataDir: string | undefined, template: PgliteTemplate | undefined): Promise<EmbeddedDatabase> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  // PGlite's own start parameters first (single-user mode, no parallel workers), then ours.
  const startParams = [...PGlite.defaultStartParams, ...pgliteStartParams(pgliteSettings())];
  // A template goes to disk before PGlite starts (unpackTemplate says why); without a folder, PGlite loads it in memory.
  if (template && dataDir) await unpackTemplate(template, dataDir);
  const loadDataDir = template && !dataDir ? (typeof template === 'string' ? await openAsBlob(template) : template) : undefined;
  const client = new PGlite({ dataDir, startParams, parsers: BYTEA_PARSERS, serializers: BYTEA_SERIALIZERS, ...(loadDataDir ? { loadDataDir } : {}) });
  await client.waitReady;
  const driverDb = drizzlePglite(client, { schema });
  const db: Db = driverDb;
  const listeners = new Map<string, number>();
  const count = (channel: string, by: number) => listeners.set(channel, (listeners.get(channel) ?? 0) + by);
  return {
    db,
    kind: 'pglite',
    driverDb,
    async listen(channel, onPayload) {
      const stop = await client.listen(channel, onPayload);
      count(channel, 1);
      let stopped = false;
      return async () => {
        if (!stopped) count(channel, -1);
        stopped = true;
        await stop();
      };
    },
    listenerCount: (channel) => listeners.get(channel) ?? 0,
    rows: preparedDb(db).query,
    withLock: (_name, fn) => fn(),
    tryLock: (_name, fn) => fn(),
    poolStats: async () => undefined,
    close: () => client.close(),
  };
}
