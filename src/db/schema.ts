/**
 * Tables. Every table is keyed by `store_id` first and no statement touches two
 * stores, so a store-sharded PostgreSQL (e.g. Citus) can spread stores out.
 *
 * Times are bigint microseconds since the Unix epoch (`*_us`): the contract's
 * `ts` has microsecond precision and must be strictly increasing per store,
 * which is exact integer arithmetic here and lossy with JS Dates.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});

/**
 * Keys compare bytewise (code point order) on every server and locale, so key
 * listings are stable and a prefix is an index range.
 */
const keyText = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

const micros = (name: string) => bigint(name, { mode: 'number' });
const nowMicros = sql`(extract(epoch from clock_timestamp()) * 1000000)::bigint`;

export const stores = pgTable('stores', {
  id: uuid('id').primaryKey(),
  config: jsonb('config').notNull(),
  options: jsonb('options').notNull().default({}),
  /**
   * bumped by every options change and carried by its notice, so an instance
   * ends only the feeds that read older options (one that opened after the
   * change, before the notice arrived, already filters with the new ones)
   */
  optionsVersion: bigint('options_version', { mode: 'number' }).notNull().default(0),
  /** rev of the store's latest write; the next write gets head_rev + 1 */
  headRev: bigint('head_rev', { mode: 'number' }).notNull().default(0),
  /** ts of the latest write; the next ts is greater */
  lastTsUs: micros('last_ts_us').notNull().default(0),
  /** highest rev of a purged tombstone; `since` below it can't be served */
  purgedRev: bigint('purged_rev', { mode: 'number' }).notNull().default(0),
  /**
   * the largest value size ever written to the store (as a batch counts it:
   * JSON bytes, or base64 length of bytes; never lowered). A handshake whose
   * batches could not reach the byte budget at this size cuts them by count
   * alone, from the rev index (all-served.sql.ts).
   */
  maxEntryBytes: integer('max_entry_bytes').notNull().default(0),
  createdUs: micros('created_us').notNull().default(nowMicros),
});

/**
 * The compacted change log: one row per key at its latest write. `rev > N
 * order by rev` is both the `since` diff and the live-feed backlog.
 * A JSON value is kept as its text so batches and events embed it verbatim
 * (no parse and re-serialise on the hot path, and the writer's bytes return).
 */
export const entries = pgTable(
  'entries',
  {
    storeId: uuid('store_id').notNull(),
    key: keyText('key').notNull(),
    rev: bigint('rev', { mode: 'number' }).notNull(),
    tsUs: micros('ts_us').notNull(),
    deleted: boolean('deleted').notNull().default(false),
    json: text('json'),
    bytes: bytea('bytes'),
    contentType: text('content_type'),
  },
  (t) => [
    // The key also INCLUDEs rev, ts_us and deleted (migration 0004; drizzle cannot say so here): digests and
    // `have` comparisons read the index alone, not the rows with their values.
    primaryKey({ columns: [t.storeId, t.key] }),
    // INCLUDEs key and deleted (migration 0005): a first sync's handshake cuts its batches from this index alone.
    uniqueIndex('entries_store_rev').on(t.storeId, t.rev),
    // The purge job looks for old tombstones across all stores.
    index('entries_tombstones').on(t.tsUs).where(sql`${t.deleted}`),
  ],
);

/**
 * A sync session: the handshake's answer, stored so any server instance can
 * serve its batches and acks. Its stale keys live in `sync_chunks`.
 */
export const syncSessions = pgTable(
  'sync_sessions',
  {
    storeId: uuid('store_id').notNull(),
    id: uuid('id').notNull(),
    headRev: bigint('head_rev', { mode: 'number' }).notNull(),
    batchSize: integer('batch_size').notNull(),
    window: integer('window').notNull(),
    /** number of stale keys */
    total: integer('total').notNull(),
    /** number of batches (= chunks) */
    batches: integer('batches').notNull(),
    /** highest cursor handed out, -1 before the first fetch */
    delivered: integer('delivered').notNull().default(-1),
    /** highest cursor acknowledged, -1 before the first ack */
    acked: integer('acked').notNull().default(-1),
    /** stale keys covered by acknowledged batches */
    ackedKeys: integer('acked_keys').notNull().default(0),
    /**
     * The client that opened it (token at an address); null for admin and open
     * mode. The per-client session quota counts open sessions by it, so the
     * quota holds across instances and frees wherever the session ends.
     */
    client: text('client'),
    lastActiveUs: micros('last_active_us').notNull(),
    createdUs: micros('created_us').notNull(),
  },
  (t) => [primaryKey({ columns: [t.storeId, t.id] }), index('sync_sessions_active').on(t.lastActiveUs)],
);

/**
 * The stale keys of a session, one row per batch, in delivery order. A batch
 * is a chunk, so serving cursor N is one primary-key read.
 */
export const syncChunks = pgTable(
  'sync_chunks',
  {
    storeId: uuid('store_id').notNull(),
    sessionId: uuid('session_id').notNull(),
    cursor: integer('cursor').notNull(),
    /** stored uncompressed (migration 0005; drizzle cannot say so here): it lives until the session ends */
    keys: text('keys').array().notNull(),
    /**
     * The revs the chunk's keys had at the handshake, lowest and highest,
     * when they are every entry the store served in that range (a first sync
     * or a `since` without prefix or key filter, all-served.sql.ts): the
     * batch is then read by that range, and checked against `keys` (a key
     * written since has left it). Null otherwise: read by `keys`.
     */
    fromRev: bigint('from_rev', { mode: 'number' }),
    toRev: bigint('to_rev', { mode: 'number' }),
  },
  (t) => [primaryKey({ columns: [t.storeId, t.sessionId, t.cursor] })],
);

export const tokens = pgTable(
  'tokens',
  {
    storeId: uuid('store_id').notNull(),
    id: uuid('id').notNull(),
    /** SHA-256 of the token, hex; looked up with the store id of the request's URL */
    hash: text('hash').notNull(),
    scope: text('scope').notNull(),
    createdUs: micros('created_us').notNull().default(nowMicros),
  },
  (t) => [primaryKey({ columns: [t.storeId, t.id] }), uniqueIndex('tokens_store_hash').on(t.storeId, t.hash)],
);

export const schema = { stores, entries, syncSessions, syncChunks, tokens };
