/**
 * The common case of a batch fetch and of an ack, in prepared statements
 * without a transaction (an ack in one, a fetch in two: its delivery, then
 * its body), where the full path (sessions.ts) needs a transaction with a
 * locked read, then updates and reads. The UPDATE of the session row takes
 * the same row lock the full path takes, and its WHERE holds every
 * condition of the success path; when it matches no row (unknown or expired
 * session, cursor outside the window, released chunks, a repeated ack)
 * nothing was written and the caller runs the full path, which answers as
 * before.
 */
import type { Db } from '../db/client.js';
import { preparedDb } from '../db/prepared.js';
import { ENTRY_TEXT_SQL, type EntryText } from '../store/entry-sql.js';
import { nowMicros } from '../store/time.js';
import { batchBody, batchHead, batchTail, entriesSql } from './batch-body.js';
import type { AckResult, BatchRequest } from './session-types.js';
import { SESSION_DONE_SQL, advancesAckSql, hasBatchSql, isDone, isInWindowSql, sessionOpenSql, wasDeliveredSql } from './session-rules.js';

// Parameters: $1 store id, $2 session id, $3 cursor, $4 now (us), $5 timeout (us).
const CURSOR = '$3::int';

/** The session has not expired (session-rules.ts, as the full path checks it). */
const SESSION_OPEN = sessionOpenSql('$4::bigint', '$5::bigint');
/** Every condition of the session row for a successful fetch of batch $3. */
const FETCH_ALLOWED = `${hasBatchSql(CURSOR)} and ${isInWindowSql(CURSOR)} and ${SESSION_OPEN}`;
/** Every condition of the session row for an ack of batch $3 that moves the session forward. */
const ACK_ADVANCES = `${advancesAckSql(CURSOR)} and ${wasDeliveredSql(CURSOR)} and ${hasBatchSql(CURSOR)} and ${SESSION_OPEN}`;

/**
 * Marks batch $3 delivered and touches the session, if every condition of a
 * successful fetch holds; yields `batches` then, else no row.
 */
const DELIVER = `update sync_sessions set delivered = greatest(delivered, $3::int), last_active_us = $4::bigint
  where id = $2::uuid and store_id = $1::uuid and ${FETCH_ALLOWED}
    and exists (select 1 from sync_chunks where store_id = $1::uuid and session_id = $2::uuid and cursor = $3::int)
    and exists (select 1 from stores where id = $1::uuid)
  returning batches`;

/**
 * The batch's key list (its chunk row) and the current rows of those keys,
 * each read once per batch: the entries in one index scan for the whole key
 * list (`= any`), both materialized, so the planner can neither probe entries
 * once per key (a nested loop: on PGlite, with no statistics yet after a
 * load, that was a bitmap heap scan per key and a file-size call with it,
 * about a third of a batch's time) nor move the key list into such a loop.
 * No row of them comes back unless the delivery (`s`) let the fetch through.
 */
const CHUNK_KEYS = `c as materialized (select keys from sync_chunks where store_id = $1::uuid and session_id = $2::uuid and cursor = $3::int),
  f as materialized (select e.key, e.deleted, ${ENTRY_TEXT_SQL} as text from entries e
    where e.store_id = $1::uuid and e.key = any ((select keys from c)::text[]))`;

/** The batch's keys in delivery order with their rows (f is null for a key purged since). */
const IN_ORDER = 'c cross join lateral unnest(c.keys) with ordinality as k(key, ord) left join f on f.key = k.key';

/**
 * Delivery alone, committed before the batch is read: the session row stays
 * locked only for this short statement. Read in the same statement, the
 * batch held the lock while the database joined a megabyte of text, and the
 * client's ack of the batch before it (the same row) waited behind it; the
 * client's next fetch waits for that ack (the window), so batches went out
 * one at a time, the client, the server and the database each idle while
 * another worked. Yields the session's `batches` and the store's options.
 */
const DELIVER_FETCH = `with s as (${DELIVER})
  select s.batches, st.options::text as options from s join stores st on st.id = $1::uuid`;

/**
 * The batch's entries as the body holds them, joined by the database; the
 * server puts the head and the tail around them (joined here too, they cost
 * the database two more copies of the whole text: about 3 of 17 ms for
 * 2,000 entries of 1 KiB). No row when the chunk is gone (released by the
 * last ack since).
 */
const ENTRIES_JOINED = `with ${CHUNK_KEYS}
  select ${entriesSql('f.text', 'k.ord', `${IN_ORDER} where f.key is not null`)} as entries
  from c`;

/** The batch as one row per key, for the store's policy to pick from; no row when the chunk is gone. */
const BODY_ROWS = `with ${CHUNK_KEYS}
  select f.key, f.deleted, f.text from ${IN_ORDER} order by k.ord`;

const ACK = `with s as (
    update sync_sessions set acked = $3::int, last_active_us = $4::bigint,
      acked_keys = acked_keys + (select coalesce(sum(cardinality(c.keys)), 0)::int from sync_chunks c
        where c.store_id = $1::uuid and c.session_id = $2::uuid and c.cursor > sync_sessions.acked and c.cursor <= $3::int)
    where id = $2::uuid and store_id = $1::uuid and ${ACK_ADVANCES}
    returning acked, batches, total, acked_keys),
  -- A completed session keeps its row for idempotent acks; its key lists can go.
  released as (delete from sync_chunks where store_id = $1::uuid and session_id = $2::uuid and exists (select 1 from s where ${SESSION_DONE_SQL}))
  select acked, batches, total, acked_keys from s`;

/**
 * Batch `cursor` as the response body, or undefined when the full path must decide.
 *
 * With `open` and no options on the store, the database joins the batch's
 * entries into one string and the server passes its bytes on without
 * decoding them, between the body's head and tail. Otherwise each entry
 * comes as its own row and the store's current policy picks them.
 */
export async function fetchBatchFast(db: Db, req: BatchRequest): Promise<string | Buffer[] | undefined> {
  const { storeId, sessionId, cursor, timeoutMs, policyFor, open } = req;
  const { query, queryBytes } = preparedDb(db);
  const [delivered] = await query<{ batches: number | string; options: string }>(DELIVER_FETCH, [storeId, sessionId, cursor, nowMicros(), timeoutMs * 1000]);
  if (!delivered) return undefined;
  const batches = Number(delivered.batches);
  const chunk = [storeId, sessionId, cursor];
  if (open && delivered.options === '{}') {
    const [row] = await queryBytes(ENTRIES_JOINED, chunk);
    const entries = row?.[0];
    return entries ? [Buffer.from(batchHead(cursor)), entries, Buffer.from(batchTail(cursor, batches))] : undefined;
  }
  const rows = await query<{ key: string | null; deleted: boolean; text: string | null }>(BODY_ROWS, chunk);
  // A chunk holds at least one key, so no row means it was released since (delivering again is idempotent).
  if (rows.length === 0) return undefined;
  const policy = policyFor ? policyFor(JSON.parse(delivered.options) as Record<string, unknown>) : undefined;
  // A null key is a key purged since the handshake (left join); batchBody skips it.
  const entries = rows.map((r): EntryText | undefined => (r.key === null ? undefined : { key: r.key, deleted: r.deleted, text: r.text! }));
  return batchBody(cursor, batches, entries, policy);
}

/** Acknowledges a delivered, not yet acknowledged cursor; undefined when the full path must decide. */
export async function acknowledgeFast(db: Db, storeId: string, sessionId: string, cursor: number, timeoutMs: number): Promise<AckResult | undefined> {
  const [row] = await preparedDb(db).query<{ acked: number; batches: number; total: number; acked_keys: number }>(ACK, [
    storeId,
    sessionId,
    cursor,
    nowMicros(),
    timeoutMs * 1000,
  ]);
  if (!row) return undefined;
  const done = isDone(row);
  return { acked: row.acked, next: done ? null : row.acked + 1, remaining: row.total - row.acked_keys, done };
}
