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
import { ENTRY_TEXT, rowsOf, type EntryText } from '../store/entry-sql.js';
import { nowMicros } from '../store/time.js';
import { batchBody, batchEnvelope } from './batch-body.js';
import type { AckResult } from './sessions.js';

/** Expiry as the full path checks it: a session that is not done expires `timeoutMs` after its last activity. */
const live = (now: number, timeoutMs: number) => sql`(acked >= batches - 1 or ${now}::bigint - last_active_us <= ${timeoutMs * 1000}::bigint)`;

/**
 * Marks batch `cursor` delivered and touches the session, if every condition
 * of a successful fetch holds; yields `batches` then, else no row.
 */
const deliver = (storeId: string, sessionId: string, cursor: number, now: number, timeoutMs: number) => sql`
  update sync_sessions set delivered = greatest(delivered, ${cursor}::int), last_active_us = ${now}::bigint
  where id = ${sessionId}::uuid and store_id = ${storeId}::uuid and ${cursor}::int < batches and ${cursor}::int <= acked + "window"
    and ${live(now, timeoutMs)}
    and exists (select 1 from sync_chunks where session_id = ${sessionId}::uuid and cursor = ${cursor}::int)
    and exists (select 1 from stores where id = ${storeId}::uuid)
  returning batches`;

/** The batch's keys in delivery order joined to their current rows (e is null for a key purged since). */
const chunkEntries = (storeId: string, sessionId: string, cursor: number) => sql`
  sync_chunks c
  cross join lateral unnest(c.keys) with ordinality as k(key, ord)
  left join entries e on e.store_id = ${storeId}::uuid and e.key = k.key
  where c.session_id = ${sessionId}::uuid and c.cursor = ${cursor}::int`;

/**
 * Batch `cursor` as response text, or undefined when the full path must decide.
 *
 * `open` says the store had no options when last seen and has no library
 * value filter (PolicyRegistry.isOpen): the database then
 * joins the whole batch into one string and the server only passes it on.
 * Otherwise, or when the options turn out to have changed, each entry comes
 * as its own row and the store's current policy picks them.
 */
export async function fetchBatchFast(
  db: Db,
  storeId: string,
  sessionId: string,
  cursor: number,
  timeoutMs: number,
  policyFor?: (options: Record<string, unknown>) => StorePolicy,
  open = false,
): Promise<string | undefined> {
  if (open) {
    const [row] = rowsOf<{ batches: number; options: string; body: string | null }>(
      await db.execute(sql`with s as (${deliver(storeId, sessionId, cursor, nowMicros(), timeoutMs)})
        select s.batches, st.options::text as options,
          (select string_agg(${ENTRY_TEXT}, ',' order by k.ord) from ${chunkEntries(storeId, sessionId, cursor)} and e.key is not null) as body
        from s join stores st on st.id = ${storeId}::uuid`),
    );
    if (!row) return undefined;
    if (row.options === '{}') return batchEnvelope(cursor, Number(row.batches), row.body ?? '');
    // The options changed since: fall through (delivering again is idempotent).
  }
  const rows = rowsOf<{ batches: number; options: string; key: string | null; deleted: boolean; text: string | null }>(
    await db.execute(sql`with s as (${deliver(storeId, sessionId, cursor, nowMicros(), timeoutMs)})
      select s.batches, st.options::text as options, e.key, e.deleted, ${ENTRY_TEXT} as text
      from s join stores st on st.id = ${storeId}::uuid cross join ${chunkEntries(storeId, sessionId, cursor)}
      order by k.ord`),
  );
  // A chunk holds at least one key, so no row means the session row was not touched.
  if (rows.length === 0) return undefined;
  const policy = policyFor ? policyFor(JSON.parse(rows[0]!.options) as Record<string, unknown>) : undefined;
  // A null key is a key purged since the handshake (left join); batchBody skips it.
  const entries = rows.map((r): EntryText | undefined => (r.key === null ? undefined : { key: r.key, deleted: r.deleted, text: r.text! }));
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
