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
import { preparedDb, type BigintColumn } from '../db/prepared.js';
import { ENTRY_TEXT_SQL, type EntryText } from '../store/entry-sql.js';
import { nowMicros } from '../store/time.js';
import { ENTRY_SEPARATOR_SQL, batchBody, batchBodyBytes, batchBodyJoined } from './batch-body.js';
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
 * Delivery alone, committed before the batch is read: the session row stays
 * locked only for this short statement. Read in the same statement, the
 * batch held the lock while the database read a megabyte of text, and the
 * client's ack of the batch before it (the same row) waited behind it; the
 * client's next fetch waits for that ack (the window), so batches went out
 * one at a time, the client, the server and the database each idle while
 * another worked. Yields the session's `batches`, the store's options and
 * the chunk's rev range if it has one (its chunk row, which DELIVER found),
 * and how many keys it holds, else the batch's keys in delivery order: a
 * range read needs no keys here (2,000 strings to parse and collect per
 * batch, a tenth of the server's CPU in a first sync).
 */
const DELIVER_FETCH = `with s as (${DELIVER}),
  c as (select keys, from_rev, to_rev from sync_chunks where store_id = $1::uuid and session_id = $2::uuid and cursor = $3::int)
  select s.batches, st.options::text as options, case when c.from_rev is null then c.keys end as keys, c.from_rev, c.to_rev,
    cardinality(c.keys) as key_count
  from s join stores st on st.id = $1::uuid left join c on true`;

/** Batch $3's keys in delivery order, for a chunk read by its rev range whose batch must be read key by key after all. */
const CHUNK_KEYS = 'select keys from sync_chunks where store_id = $1::uuid and session_id = $2::uuid and cursor = $3::int';

/**
 * The entries of batch $3's keys, read from its chunk row here rather than
 * sent back by the server (it has them from DELIVER_FETCH, to order the
 * entries by): one bitmap index scan for the whole list, which sits behind a
 * subquery so the planner takes it for a list of unknown length (given 2,000
 * keys, on a store not yet analyzed after a load, it planned a filter over
 * every entry). Nothing is found once the chunk is released (by the last
 * ack since the delivery).
 */
const OF_KEYS = `from entries e where e.store_id = $1::uuid
  and e.key = any ((select keys from sync_chunks where store_id = $1::uuid and session_id = $2::uuid and cursor = $3::int)::text[])`;

/** The rows of a batch's keys for the store's policy to pick from, in the order the scan found them. */
const ENTRY_ROWS = `select e.key, e.deleted, ${ENTRY_TEXT_SQL} as text ${OF_KEYS}`;

/** Entries per piece of a batch the database sends in pieces (ENTRIES_FOUND, ENTRIES_IN_RANGE; on average for a range): about 128 KB of text at 1 KiB a value. */
export const ENTRIES_PER_PIECE = 128;

/**
 * The same in pieces: each piece the entry texts of a slice of $4 of the
 * chunk's keys end to end, in the order its scan found them, and each one's
 * length in bytes (comma-separated); the server puts them in delivery order
 * and joins them a line each. Joined in delivery order by the database
 * instead (a join on each key's position and a sort of the megabytes), a
 * batch of 2,000 entries of 1 KiB cost it 14 ms, this 4 ms: the database is
 * what all instances share. Pieces, not one row: a row per entry had the
 * driver build an object for each, and one row of the whole batch cost
 * PostgreSQL more to send than to build (ENTRIES_IN_RANGE). A slice of the
 * chunk's keys is a list of unknown length to the planner, so each is
 * probed in the primary key (given 2,000 keys, on a store not yet analyzed
 * after a load, it planned a filter over every entry). Nothing is found once
 * the chunk is released (by the last ack since the delivery).
 */
const ENTRIES_FOUND = `select piece.texts, piece.lengths
  from (select keys from sync_chunks where store_id = $1::uuid and session_id = $2::uuid and cursor = $3::int) c,
    generate_series(1, cardinality(c.keys), $4::int) as step(first),
    lateral (select string_agg(found.text, '') as texts, string_agg(octet_length(found.text)::text, ',') as lengths
      from (select ${ENTRY_TEXT_SQL} as text from entries e
        where e.store_id = $1::uuid and e.key = any (c.keys[step.first : step.first + $4::int - 1]) offset 0) found) piece
  where piece.texts is not null`;

/**
 * The entry texts of the live entries with revs $2 to $3, in rev order,
 * joined as a batch joins them (batch-body.ts), in pieces of the revs of
 * one step ($4) each, with how many entries each piece holds (pieces with
 * none are left out). One index range scan per piece, where ENTRIES_FOUND
 * looks each key up: 4.7 ms against 9.0 ms for 2,000 entries of 1 KiB on
 * PostgreSQL; and the server only puts the body's head and tail around the
 * pieces. Pieces, not the batch as one text: PostgreSQL spent more CPU
 * sending a 2 MB text than building it (10 against 4 ms a batch; 50 batches
 * of 2,000 entries of 1 KiB in pieces of about 128: 350 against 600 ms).
 * Each piece comes with the rev its step begins at, which orders them
 * (joinedInRange; an ORDER BY here would copy the megabytes into a sort).
 */
const ENTRIES_IN_RANGE = `select piece.body, piece.entries, step.from_rev
  from generate_series($2::bigint, $3::bigint, $4::bigint) as step(from_rev),
    lateral (select string_agg(found.text, ${ENTRY_SEPARATOR_SQL}) as body, count(*)::int as entries
      from (select ${ENTRY_TEXT_SQL} as text from entries e
        where e.store_id = $1::uuid and e.rev >= step.from_rev and e.rev <= least(step.from_rev + $4::bigint - 1, $3::bigint) and not e.deleted
        order by e.rev offset 0) found) piece
  where piece.entries > 0`;

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
 * With `open` and no options on the store, the entries go out as the
 * database wrote them, between the body's head and tail. Otherwise the
 * store's current policy picks among them.
 */
export async function fetchBatchFast(db: Db, req: BatchRequest): Promise<string | Buffer | undefined> {
  const { storeId, sessionId, cursor, timeoutMs, policyFor, open } = req;
  const { query, queryBytes } = preparedDb(db);
  const [delivered] = await query<{
    batches: BigintColumn;
    options: string;
    keys: string[] | null;
    from_rev: BigintColumn | null;
    to_rev: BigintColumn | null;
    key_count: number | null;
  }>(DELIVER_FETCH, [storeId, sessionId, cursor, nowMicros(), timeoutMs * 1000]);
  if (!delivered) return undefined;
  const batches = Number(delivered.batches);
  const chunk = [storeId, sessionId, cursor];
  const { from_rev: fromRev, to_rev: toRev, key_count: keyCount } = delivered;
  // No keys (the chunk was released since) or nothing found (every key of it purged): the full path tells which.
  const keysOf = async () => delivered.keys ?? (await chunkKeys(db, storeId, sessionId, cursor));
  if (open && delivered.options === '{}') {
    const range = fromRev !== null && toRev !== null && keyCount !== null ? { fromRev: Number(fromRev), toRev: Number(toRev), keys: keyCount } : undefined;
    const joined = range ? await joinedInRange(db, storeId, range) : undefined;
    if (joined) return batchBodyJoined(cursor, batches, joined);
    const keys = await keysOf();
    if (!keys) return undefined;
    const pieces = await queryBytes(ENTRIES_FOUND, [...chunk, ENTRIES_PER_PIECE]);
    return pieces.length === 0 ? undefined : batchBodyBytes(cursor, batches, inDeliveryOrder(keys, pieces));
  }
  const keys = await keysOf();
  if (!keys) return undefined;
  const rows = await query<EntryText>(ENTRY_ROWS, chunk);
  if (rows.length === 0) return undefined;
  const policy = policyFor ? policyFor(JSON.parse(delivered.options) as Record<string, unknown>) : undefined;
  return batchBody(
    cursor,
    batches,
    inKeyOrder(keys, rows, (row) => row.key),
    policy,
  );
}

/** A chunk's range of revs (from_rev to to_rev, both in it) and how many keys it holds. */
export interface ChunkRange {
  fromRev: number;
  toRev: number;
  keys: number;
}

/**
 * The entries of a chunk read by its rev range, joined in pieces, or
 * undefined unless that range holds exactly its keys. A key written or
 * deleted since the handshake has left the range (its new rev is past the
 * session's head), and the batch is then read by its keys, which finds the
 * current entry of each. Nothing can enter the range: revs are never given
 * twice, and the range held exactly the chunk's keys at the handshake. So
 * the range holds the chunk's keys, in their order, if and only if it holds
 * as many entries. Exported so a test can hold it to that.
 */
export async function joinedInRange(db: Db, storeId: string, range: ChunkRange, entriesPerPiece = ENTRIES_PER_PIECE): Promise<Buffer[] | undefined> {
  const { fromRev, toRev, keys } = range;
  if (keys === 0) return undefined;
  // Revs a piece spans so that it holds about entriesPerPiece entries, however sparse the range (a `since` handshake's).
  const step = Math.max(1, Math.ceil(((toRev - fromRev + 1) * entriesPerPiece) / keys));
  const rows = await preparedDb(db).queryBytes(ENTRIES_IN_RANGE, [storeId, fromRev, toRev, step]);
  let found = 0;
  for (const row of rows) found += Number(row[1]!.toString('latin1'));
  if (found !== keys) return undefined;
  const pieces = rows.map((row) => ({ body: row[0]!, from: Number(row[2]!.toString('latin1')) }));
  return pieces.sort((a, b) => a.from - b.from).map((piece) => piece.body);
}

/**
 * Rows of the batch's keys in the order of `keys` (delivery order). A key
 * purged since the handshake has no row and is left out (the feed or a new
 * handshake covers it).
 */
function inKeyOrder<R>(keys: readonly string[], rows: readonly R[], keyOf: (row: R) => string): R[] {
  const position = new Map<string, number>();
  for (let i = 0; i < keys.length; i++) position.set(keys[i]!, i);
  const slots: Array<R | undefined> = new Array(keys.length);
  for (const row of rows) {
    const at = position.get(keyOf(row));
    if (at === undefined) throw new Error(`internal: the entry of ${JSON.stringify(keyOf(row))} is not in the batch`);
    slots[at] = row;
  }
  return slots.filter((row) => row !== undefined);
}

/**
 * ENTRIES_FOUND's pieces cut at their lengths, in the order of `keys`. Each
 * text begins with its key (`{"key":"…"`, docs/API.md, "Batches"); a key
 * purged since the handshake has no text and is left out.
 */
function inDeliveryOrder(keys: readonly string[], pieces: ReadonlyArray<ReadonlyArray<Buffer | null>>): Buffer[] {
  const found: Buffer[] = [];
  for (const [texts, lengths] of pieces) {
    let at = 0;
    for (const length of lengths!.toString('latin1').split(',')) found.push(texts!.subarray(at, (at += Number(length))));
    if (at !== texts!.length) throw new Error(`internal: batch texts of ${texts!.length} bytes, their lengths add up to ${at}`);
  }
  return inKeyOrder(keys, found, keyOfEntryText);
}

const KEY_START = Buffer.byteLength('{"key":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The key an entry text begins with: read as it is unless escaped, else as the JSON string it is. */
function keyOfEntryText(text: Buffer): string {
  let at = KEY_START;
  let escaped = false;
  for (; at < text.length && text[at] !== QUOTE; at++) {
    if (text[at] === BACKSLASH) (escaped = true), at++;
  }
  return escaped ? (JSON.parse(text.toString('utf8', KEY_START - 1, at + 1)) as string) : text.toString('utf8', KEY_START, at);
}

/** Batch `cursor`'s keys in delivery order, as its chunk holds them; undefined once the chunk is released. */
export async function chunkKeys(db: Db, storeId: string, sessionId: string, cursor: number): Promise<string[] | undefined> {
  return (await preparedDb(db).query<{ keys: string[] }>(CHUNK_KEYS, [storeId, sessionId, cursor]))[0]?.keys;
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
