/**
 * The statements a handshake and a digest request run once each, prepared
 * (db/prepared.ts) rather than built by drizzle: drizzle sends a statement
 * unnamed, which costs a describe round trip and a parse each time, and its
 * query builder costs CPU on every call. A reconnecting replica meets these
 * on every handshake, so a reconnect storm does too.
 */
import type { BigintColumn, PreparedQuery } from '../db/prepared.js';
import { notFound } from '../domain-errors.js';

/** What a sync handshake reads of its store's row. */
export interface SyncStoreRow {
  headRev: number;
  purgedRev: number;
  options: Record<string, unknown>;
  optionsVersion: number;
  /** the largest value size ever written (stores.max_entry_bytes) */
  maxEntryBytes: number;
  /** when the store was created: tells it from an earlier store with the same id (digest-folds.ts) */
  createdUs: number;
}

const STORE_ROW = 'select head_rev, purged_rev, options, options_version, max_entry_bytes, created_us from stores where id = $1::uuid';

/** The store's row inside the caller's transaction; not-found when there is none. */
export async function readSyncStoreRow(query: PreparedQuery, storeId: string): Promise<SyncStoreRow> {
  const [row] = await query<{
    head_rev: BigintColumn;
    purged_rev: BigintColumn;
    options: Record<string, unknown>;
    options_version: BigintColumn;
    max_entry_bytes: number;
    created_us: BigintColumn;
  }>(STORE_ROW, [storeId]);
  if (!row) throw notFound(`store ${storeId}`);
  return {
    headRev: Number(row.head_rev),
    purgedRev: Number(row.purged_rev),
    options: row.options,
    optionsVersion: Number(row.options_version),
    maxEntryBytes: row.max_entry_bytes,
    createdUs: Number(row.created_us),
  };
}

/** A new session's row: delivered and acked start at -1, acked keys at 0 (the table's defaults). */
export interface NewSession {
  storeId: string;
  sessionId: string;
  headRev: number;
  batchSize: number;
  window: number;
  total: number;
  batches: number;
  client: string | null;
  nowUs: number;
}

const INSERT_SESSION = `insert into sync_sessions (store_id, id, head_rev, batch_size, "window", total, batches, client, last_active_us, created_us)
  values ($1::uuid, $2::uuid, $3::bigint, $4::int, $5::int, $6::int, $7::int, $8::text, $9::bigint, $9::bigint)`;

export async function insertSession(query: PreparedQuery, s: NewSession): Promise<void> {
  await query(INSERT_SESSION, [s.storeId, s.sessionId, s.headRev, s.batchSize, s.window, s.total, s.batches, s.client, s.nowUs]);
}
