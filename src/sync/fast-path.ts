/**
 * The common case of a batch fetch and of an ack, each in one statement: one
 * database round trip instead of five to seven (a transaction with a locked
 * read, then updates and reads). The UPDATE of the session row takes the
 * same row lock the full path takes, and its WHERE holds every condition of
 * the success path; when it matches no row (unknown or expired session,
 * cursor outside the window, released chunks, a repeated ack) nothing was
 * written and the caller runs the full path, which answers as before.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import type { StorePolicy } from '../options/index.js';
import type { EntryRow } from '../store/reads.js';
import { nowMicros } from '../store/time.js';
import { batchBody } from './batch-body.js';
import type { AckResult } from './sessions.js';

/** Rows of a raw statement: postgres.js gives an array (bigints as strings), PGlite `{rows}`. */
function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** Expiry as the full path checks it: a session that is not done expires `timeoutMs` after its last activity. */
const live = (now: number, timeoutMs: number) => sql`(acked >= batches - 1 or ${now}::bigint - last_active_us <= ${timeoutMs * 1000}::bigint)`;

interface BatchRow {
  batches: number;
  options: string;
  key: string | null;
  rev: string | number;
  ts_us: string | number;
  deleted: boolean;
  json: string | null;
  bytes: Uint8Array | null;
  content_type: string | null;
}

/** Batch `cursor` as response text, or undefined when the full path must decide. */
export async function fetchBatchFast(
  db: Db,
  storeId: string,
  sessionId: string,
  cursor: number,
  timeoutMs: number,
  policyFor?: (options: Record<string, unknown>) => StorePolicy,
): Promise<string | undefined> {
  const now = nowMicros();
  const rows = rowsOf<BatchRow>(
    await db.execute(sql`with s as (
        update sync_sessions set delivered = greatest(delivered, ${cursor}::int), last_active_us = ${now}::bigint
        where id = ${sessionId}::uuid and store_id = ${storeId}::uuid and ${cursor}::int < batches and ${cursor}::int <= acked + "window"
          and ${live(now, timeoutMs)}
          and exists (select 1 from sync_chunks where session_id = ${sessionId}::uuid and cursor = ${cursor}::int)
          and exists (select 1 from stores where id = ${storeId}::uuid)
        returning batches)
      select s.batches, st.options::text as options, e.key, e.rev, e.ts_us, e.deleted, e.json, e.bytes, e.content_type
      from s
      join sync_chunks c on c.session_id = ${sessionId}::uuid and c.cursor = ${cursor}::int
      join stores st on st.id = ${storeId}::uuid
      cross join lateral unnest(c.keys) with ordinality as k(key, ord)
      left join entries e on e.store_id = ${storeId}::uuid and e.key = k.key
      order by k.ord`),
  );
  // A chunk holds at least one key, so no row means the session row was not touched.
  if (rows.length === 0) return undefined;
  const policy = policyFor ? policyFor(JSON.parse(rows[0]!.options) as Record<string, unknown>) : undefined;
  // A null key is a key purged since the handshake (left join); batchBody skips it.
  const entries = rows.map((r): EntryRow | undefined =>
    r.key === null
      ? undefined
      : { key: r.key, rev: Number(r.rev), tsUs: Number(r.ts_us), deleted: r.deleted, json: r.json, bytes: r.bytes, contentType: r.content_type },
  );
  return batchBody(cursor, Number(rows[0]!.batches), entries, policy);
}

/** Acknowledges a delivered, not yet acknowledged cursor; undefined when the full path must decide. */
export async function acknowledgeFast(db: Db, storeId: string, sessionId: string, cursor: number, timeoutMs: number): Promise<AckResult | undefined> {
  const now = nowMicros();
  const [row] = rowsOf<{ acked: number; batches: number; total: number; acked_keys: number }>(
    await db.execute(sql`with s as (
        update sync_sessions set acked = ${cursor}::int, last_active_us = ${now}::bigint,
          acked_keys = acked_keys + (select coalesce(sum(cardinality(c.keys)), 0)::int from sync_chunks c
            where c.session_id = ${sessionId}::uuid and c.cursor > sync_sessions.acked and c.cursor <= ${cursor}::int)
        where id = ${sessionId}::uuid and store_id = ${storeId}::uuid and ${cursor}::int > acked and ${cursor}::int <= delivered
          and ${cursor}::int < batches and ${live(now, timeoutMs)}
        returning acked, batches, total, acked_keys),
      -- A completed session keeps its row for idempotent acks; its key lists can go.
      released as (delete from sync_chunks where session_id = ${sessionId}::uuid and exists (select 1 from s where s.acked >= s.batches - 1))
      select acked, batches, total, acked_keys from s`),
  );
  if (!row) return undefined;
  const done = row.acked >= row.batches - 1;
  return { acked: row.acked, next: done ? null : row.acked + 1, remaining: row.total - row.acked_keys, done };
}
