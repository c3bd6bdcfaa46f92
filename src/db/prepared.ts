/**
 * Prepared statements on the driver under a drizzle instance, for the hot
 * paths (see README.md in this folder for which queries go where).
 *
 * drizzle's `execute` sends every statement unnamed with a describe round
 * trip first (as postgres.js's `unsafe` does unless told to prepare), so
 * PostgreSQL parses and plans it again on each call and the driver writes to
 * the socket twice. Prepared, a statement is parsed once per connection
 * (postgres.js caches it by its text) and then costs one write and one round
 * trip. PGlite runs in process either way.
 */
import type { PGlite, Transaction as PgliteTransaction } from '@electric-sql/pglite';
import { PgTransaction } from 'drizzle-orm/pg-core';
import type postgres from 'postgres';
import type { Db } from './db-type.js';

/** A bigint column as a row holds it: postgres.js gives strings, PGlite numbers. */
export type BigintColumn = string | number;

/** Runs one statement with `$n` parameters and returns its rows. */
export type PreparedQuery = <T>(text: string, params?: unknown[]) => Promise<T[]>;

/**
 * Runs one statement and returns its rows as arrays of column bytes (text as
 * UTF-8, null for NULL): a large text result goes out without a round trip
 * through a JavaScript string. PGlite, in process, gives strings; they are
 * encoded here.
 */
export type PreparedBytesQuery = (text: string, params?: unknown[]) => Promise<Array<Array<Buffer | null>>>;

export interface PreparedDb {
  query: PreparedQuery;
  queryBytes: PreparedBytesQuery;
  /** Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (query: PreparedQuery) => Promise<T>): Promise<T>;
}

type Driver = postgres.Sql | PGlite;

const postgresQuery =
  (sql: postgres.Sql | postgres.TransactionSql): PreparedQuery =>
  async <T>(text: string, params: unknown[] = []) =>
    (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as T[];

const pgliteQuery =
  (pg: PGlite | PgliteTransaction): PreparedQuery =>
  async <T>(text: string, params: unknown[] = []) =>
    (await pg.query<T>(text, params)).rows;

const postgresBytes =
  (sql: postgres.Sql): PreparedBytesQuery =>
  async (text, params = []) =>
    (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }).raw()) as unknown as Array<Array<Buffer | null>>;

const pgliteBytes =
  (pg: PGlite): PreparedBytesQuery =>
  async (text, params = []) =>
    (await pg.query<unknown[]>(text, params, { rowMode: 'array' })).rows.map((row) =>
      row.map((v) => (v === null || v === undefined ? null : Buffer.from(typeof v === 'string' ? v : String(v)))),
    );

/**
 * Rows of drizzle's `execute`, which returns the driver's own result:
 * postgres.js an array, PGlite `{rows}`. For statements that must run on a
 * drizzle transaction (preparedDb runs on the pool, outside it).
 */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

const prepared = new WeakMap<Db, PreparedDb>();

/** The raw driver of a drizzle instance built by `openDatabase` (drizzle keeps it as `$client`). */
export function preparedDb(db: Db): PreparedDb {
  let found = prepared.get(db);
  if (!found) prepared.set(db, (found = wrap((db as unknown as { $client: Driver }).$client)));
  return found;
}

/** Whether statements run on this process's own thread (PGlite) rather than in a server of their own (PostgreSQL). */
export const runsInProcess = (db: Db): boolean => !('unsafe' in (db as unknown as { $client: Driver }).$client);

/**
 * Prepared statements on the connection of a drizzle transaction (the `tx`
 * of `db.transaction`), for a hand-written statement that a transaction runs
 * many times (the handshake's comparison): parsed once per connection, one
 * round trip per call, and inside the transaction's snapshot. drizzle keeps
 * the driver's transaction as `session.client`.
 */
export function preparedTx(tx: Db): PreparedQuery {
  if (!(tx instanceof PgTransaction)) throw new TypeError('preparedTx takes the tx of db.transaction (a statement on the pool would run outside it)');
  const client = (tx as unknown as { session: { client: postgres.TransactionSql | PgliteTransaction } }).session.client;
  return 'unsafe' in client ? postgresQuery(client) : pgliteQuery(client);
}

/** Whether a transaction of this process holds a second connection (see withSnapshotReader). */
let secondReaderInUse = false;

/** What pg_export_snapshot returns (e.g. 00000003-0000001B-1): inlined, as SET TRANSACTION SNAPSHOT takes no parameter. */
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/i;

/**
 * Runs `fn` with prepared statements on a second connection that reads what
 * the transaction `tx` reads: a read-only repeatable-read transaction that
 * imports `tx`'s snapshot (pg_export_snapshot), so a long read can be split
 * across two connections and two database cores. `fn` gets undefined (and
 * does its reads on `tx` alone) on PGlite, which has one connection, and
 * while another transaction of this process holds a second connection: a
 * transaction waiting for one keeps its first, so with at most one such
 * transaction at a time and a pool of at least two (KEYSYNC_DB_POOL) some
 * transaction can always go on.
 */
export async function withSnapshotReader<T>(db: Db, tx: Db, fn: (reader: PreparedQuery | undefined) => Promise<T>): Promise<T> {
  const driver = (db as unknown as { $client: Driver }).$client;
  if (!('unsafe' in driver) || secondReaderInUse) return fn(undefined);
  secondReaderInUse = true;
  try {
    const [snapshot] = await preparedTx(tx)<{ id: string }>('select pg_export_snapshot() as id');
    if (!snapshot || !SNAPSHOT_ID.test(snapshot.id)) throw new Error(`pg_export_snapshot returned ${JSON.stringify(snapshot?.id)}`);
    // postgres.js types `begin`'s result as an array-flattening helper; fn's value is returned as is.
    return (await driver.begin('isolation level repeatable read read only', async (reader) => {
      await reader.unsafe(`set transaction snapshot '${snapshot.id}'`);
      return fn(postgresQuery(reader));
    })) as T;
  } finally {
    secondReaderInUse = false;
  }
}

function wrap(driver: Driver): PreparedDb {
  if ('unsafe' in driver) {
    return {
      query: postgresQuery(driver),
      queryBytes: postgresBytes(driver),
      // postgres.js types `begin`'s result as an array-flattening helper; fn's value is returned as is.
      transaction: async <T>(fn: (query: PreparedQuery) => Promise<T>) => (await driver.begin((tx) => fn(postgresQuery(tx)))) as T,
    };
  }
  return {
    query: pgliteQuery(driver),
    queryBytes: pgliteBytes(driver),
    transaction: (fn) => driver.transaction((tx) => fn(pgliteQuery(tx))),
  };
}
