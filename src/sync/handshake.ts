/**
 * The handshake: compares what a client holds with the store and records a
 * sync session whose batches deliver the stale keys.
 *
 * Everything runs inside a repeatable-read snapshot, so `headRev`, the stale
 * list and the removed list describe one consistent moment. A client that
 * holds nothing (an empty `have` map) needs no comparison, nor does a
 * `since` handshake: for stores of one rank whose policy syncs by key
 * prefix, the database cuts their chunks (all-served.sql.ts). Three ways to
 * compare otherwise:
 * - in the database (have-diff.sql.ts), for stores whose policy syncs keys
 *   by prefix at most: the client's keys go in a slice per statement and
 *   only the differences come back, so an up-to-date client costs no row in
 *   JavaScript at all;
 * - in the database too for a digest handshake (digest-diff.sql.ts): the
 *   map lists only the keys of some digest buckets, compared as above with
 *   the store's keys of those buckets; the other buckets get what changed
 *   after the digests' rev;
 * - in JavaScript, one pass over the store's (key, rev, ts) in rev order,
 *   for stores whose policy needs values (a walk, a library value filter),
 *   which only JavaScript can decide, for a `since` handshake on a store of
 *   several ranks, and for a map much larger than the store
 *   (comparesInDatabase). Values are not read
 *   unless such a policy needs them.
 *
 * Memory does not grow with the store: stale keys go to the session's chunks
 * in the database page by page, and the response streams the stale list
 * back from there (stale-list.ts). The database comparison holds the revs of
 * the stale keys until it ends (8 bytes each, up to a bound that grows with
 * the `have` map, else it gives way to the pass in JavaScript); a store with
 * `order` ranks holds its stale keys until the end (a later page may hold an
 * earlier rank); the client's `have` map is in memory either way.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import { DomainError } from '../domain-errors.js';
import { decidesByKeyPrefix, type ReadSome, type StorePolicy } from '../options/index.js';
import { readJsonSome, scanMeta } from '../store/reads.js';
import { formatTs, nowMicros } from '../store/time.js';
import type { HandshakeResponse } from '@keysync/protocol';
import { preparedTx, withSnapshotReader, type PreparedQuery } from '../db/prepared.js';
import { OVERLAP_FROM_REVS, removedAfter, writeAllServed, type AllServed } from './all-served.sql.js';
import { ChunkWriter } from './chunk-writer.js';
import { Turns } from './event-loop.js';
import { diffDigest, type DigestBasis } from './digest-diff.sql.js';
import { assertDigestsUsable } from './digests.sql.js';
import { diffHave, PARTS_FROM_KEYS, readStaleKeys, type DiffSizes, type HaveDiff } from './have-diff.sql.js';
import type { HaveList } from './have-list.js';
import { insertSession, readSyncStoreRow } from './sync-store-row.sql.js';

export type HandshakeRequest =
  /**
   * `have`: the keys under `prefix` the client holds, with their ts
   * (have-list.ts); with `digest`, only those of the listed buckets
   * (digest-diff.sql.ts)
   */
  { have: HaveList; digest?: DigestBasis; prefix?: string; batchSize?: number } | { since: number; prefix?: string; batchSize?: number };

/**
 * The handshake's answer without its stale list, which the route streams
 * from the session's chunks; `chunks` holds them when they were few enough
 * to keep (no read back then).
 */
export type HandshakeResult = Omit<HandshakeResponse, 'stale'> & { storeId: string; chunks?: string[][] };

export interface HandshakeSettings {
  /** keys per batch when the client does not ask */
  batchSize: number;
  /** the most keys per batch a client may ask for */
  maxBatchSize: number;
  /** entry bytes a batch may hold (a single larger entry gets a batch of its own) */
  batchBytes: number;
  window: number;
  timeoutMs: number;
  /** who opens the session (token at an address), for the per-client quota; undefined for admin and open mode */
  client?: string;
  /**
   * For tests: the database comparison's statement sizes (have-diff.sql.ts)
   * and the stale revs it may hold; small ones cross many steps and make it
   * give way.
   */
  diffSizes?: DiffSizes & { staleRevs?: number };
}

const SCAN_PAGE = 5000;

export async function handshake(
  db: Db,
  storeId: string,
  request: HandshakeRequest,
  policyFor: (options: Record<string, unknown>) => StorePolicy,
  settings: HandshakeSettings,
): Promise<HandshakeResult> {
  const batchSize = Math.min(request.batchSize ?? settings.batchSize, settings.maxBatchSize);
  return db.transaction(
    async (txRaw) => {
      const tx = txRaw as unknown as Db;
      const query = preparedTx(tx);
      const store = await readSyncStoreRow(query, storeId);
      const { headRev, purgedRev } = store;
      const policy = policyFor(store.options);

      const since = 'since' in request ? request.since : request.digest?.rev;
      if (since !== undefined) {
        if (since < purgedRev) {
          throw new DomainError('since-purged', `tombstones up to rev ${purgedRev} were purged; handshake again with "have"`);
        }
        if (since > headRev) {
          throw new DomainError('since-ahead', `rev ${since} is ahead of this store's head ${headRev}; handshake again with "have"`);
        }
      }
      if ('have' in request && request.digest) {
        assertDigestsUsable(policy, store.optionsVersion, request.digest.optionsVersion);
      }

      const readSome = (keys: string[]) => readSomeValues(tx, storeId, keys);
      const reachable = policy.walk ? await policy.walk((keys) => readAllValues(readSome, keys), readSome) : undefined;
      const sessionId = randomUUID();
      const written = cutsInDatabase(request, policy)
        ? await writeAllServedOn(db, tx, request, {
            storeId,
            sessionId,
            prefix: request.prefix,
            filter: policy.keyFilter!,
            afterRev: 'since' in request ? request.since : 0,
            headRev,
            maxKeys: batchSize,
            maxBytes: settings.batchBytes,
            maxEntryBytes: store.maxEntryBytes,
          })
        : await diffIntoChunks(db, tx, storeId, sessionId, request, policy, reachable, headRev, batchSize, settings);

      const now = nowMicros();
      await insertSession(query, {
        storeId,
        sessionId,
        headRev,
        batchSize,
        window: settings.window,
        total: written.keys,
        batches: written.batches,
        client: settings.client ?? null,
        nowUs: now,
      });
      return {
        storeId,
        sessionId,
        removed: written.removed,
        headRev,
        batchSize,
        batches: written.batches,
        window: settings.window,
        expiresAt: formatTs(now + settings.timeoutMs * 1000),
        chunks: written.retained,
      };
    },
    { isolationLevel: 'repeatable read' },
  );
}

/**
 * writeAllServed, its two passes overlapped on a second connection when the
 * store is large enough to gain (PostgreSQL), and the removed keys: a
 * `since` handshake's tombstones, or the strings an empty `have` map holds
 * that can name no key (the client holds them, no store serves them).
 */
async function writeAllServedOn(
  db: Db,
  tx: Db,
  request: HandshakeRequest,
  s: AllServed,
): Promise<{ keys: number; batches: number; removed: string[]; retained: undefined }> {
  const query = preparedTx(tx);
  const written =
    s.headRev - s.afterRev < OVERLAP_FROM_REVS
      ? await writeAllServed(query, s)
      : await withSnapshotReader(db, tx, (reader) => writeAllServed(query, s, reader));
  const removed = 'since' in request ? await removedAfter(query, s) : [...request.have.others];
  return { ...written, removed, retained: undefined };
}

/** The comparison's stale keys written to the session's chunks by a ChunkWriter, with the removed keys. */
async function diffIntoChunks(
  db: Db,
  tx: Db,
  storeId: string,
  sessionId: string,
  request: HandshakeRequest,
  policy: StorePolicy,
  reachable: Set<string> | undefined,
  headRev: number,
  batchSize: number,
  settings: HandshakeSettings,
): Promise<{ keys: number; batches: number; removed: string[]; retained: string[][] | undefined }> {
  const chunks = new ChunkWriter(tx, storeId, sessionId, batchSize, settings.batchBytes);
  const removed = await diff(db, tx, storeId, request, policy, reachable, headRev, chunks, settings.diffSizes);
  await chunks.finish();
  return { keys: chunks.keys, batches: chunks.batches, removed, retained: chunks.retained };
}

async function diff(
  db: Db,
  tx: Db,
  storeId: string,
  request: HandshakeRequest,
  policy: StorePolicy,
  reachable: Set<string> | undefined,
  headRev: number,
  chunks: ChunkWriter,
  diffSizes: HandshakeSettings['diffSizes'],
): Promise<string[]> {
  // Delivery order is rank ascending, then rev. With one rank the scan's own
  // (rev) order is it, and keys go straight to the chunks; with several, each
  // rank is held until the scan ends.
  const ranked = policy.ranks?.length === 1 ? undefined : new Map<number, { keys: string[]; sizes: number[] }>();
  const addStale = async (key: string, size: number, rev?: number) => {
    if (!ranked) return chunks.add(key, size, rev);
    const rank = policy.rankOf(key);
    let bucket = ranked.get(rank);
    if (!bucket) ranked.set(rank, (bucket = { keys: [], sizes: [] }));
    bucket.keys.push(key);
    bucket.sizes.push(size);
  };
  let removed: string[] | undefined;
  if ('have' in request && request.digest) {
    // The listed buckets' keys are read from the whole key range of the store (about its head rev in keys, at most).
    removed = await diffInDatabase(db, tx, storeId, request.have, headRev >= PARTS_FROM_KEYS, addStale, (queries) =>
      diffDigest(queries, storeId, request.have, request.digest!, headRev, request.prefix, policy.keyFilter!, diffSizes),
    );
  } else if ('have' in request && comparesInDatabase(policy, request.have, headRev)) {
    const maxStale = diffSizes?.staleRevs ?? staleRevsHeld(request.have);
    removed = await diffInDatabase(db, tx, storeId, request.have, request.have.size >= PARTS_FROM_KEYS, addStale, (queries) =>
      diffHave(queries, storeId, request.have, request.prefix, policy.keyFilter!, maxStale, diffSizes),
    );
  }
  const all = removed ?? (await diffInJs(tx, storeId, request, policy, reachable, headRev, addStale));
  if (ranked) {
    for (const rank of [...ranked.keys()].sort((a, b) => a - b)) {
      const { keys, sizes } = ranked.get(rank)!;
      for (let i = 0; i < keys.length; i++) await chunks.add(keys[i]!, sizes[i]!);
    }
  }
  return all;
}

/**
 * Whether the database compares this `have` map. The policy must sync by
 * key prefixes at most: a walk or a value filter decides per value in
 * JavaScript (those stores keep the comparison in JavaScript). And the map
 * must not dwarf the store: the database comparison pays for every key the
 * client sends, the pass in JavaScript for every key of the store, so for a
 * store whose head rev (at least its number of keys) is under a quarter of
 * the map's size, or an empty map, the pass in JavaScript is cheaper.
 */
export function comparesInDatabase(policy: StorePolicy, have: HaveList, headRev: number): boolean {
  return decidesByKeyPrefix(policy) && have.size > 0 && 4 * headRev >= have.size;
}

/**
 * Whether the database cuts the chunks (all-served.sql.ts): every key served
 * is stale, for a client that holds nothing under its prefix (an empty
 * `have` map) and for a `since` handshake (every key served written after
 * it), under a policy that syncs by key prefix with one rank (delivery in
 * rev order).
 */
export function cutsInDatabase(request: HandshakeRequest, policy: StorePolicy): boolean {
  if (!decidesByKeyPrefix(policy) || policy.ranks?.length !== 1) return false;
  return 'since' in request || (!request.digest && request.have.size === 0);
}

/**
 * Stale revs the database comparison may hold, beyond which it gives way to
 * the pass in JavaScript: a few per key of the `have` map (which is held
 * anyway), so a client that holds little of a large store does not hold a
 * rev for every key of it.
 */
const staleRevsHeld = (have: HaveList) => Math.max(1_000_000, 4 * have.size);

/**
 * A comparison in the database (have-diff.sql.ts, digest-diff.sql.ts) by
 * `compare`, given the connections to run on (two reading the same snapshot
 * when it reads many keys, `inParts`, on PostgreSQL); removed keys, or
 * undefined when it gave way.
 */
async function diffInDatabase(
  db: Db,
  tx: Db,
  storeId: string,
  have: HaveList,
  inParts: boolean,
  addStale: (key: string, size: number, rev?: number) => Promise<void>,
  compare: (queries: PreparedQuery[]) => Promise<HaveDiff | undefined>,
): Promise<string[] | undefined> {
  const query = preparedTx(tx);
  const found = inParts ? await withSnapshotReader(db, tx, (reader) => compare(reader ? [query, reader] : [query])) : await compare([query]);
  if (!found) return undefined;
  await readStaleKeys(query, storeId, found.staleRevs, addStale);
  return have.others.length === 0 ? found.removed : [...found.removed, ...have.others];
}

/**
 * The comparison by a scan of every (key, rev, ts) in JavaScript: for a
 * policy that needs values (a value filter, a walk), which SQL cannot
 * apply, for a `since` handshake that the database does not cut
 * (cutsInDatabase), and where it is the cheaper way (comparesInDatabase).
 */
async function diffInJs(
  tx: Db,
  storeId: string,
  request: HandshakeRequest,
  policy: StorePolicy,
  reachable: Set<string> | undefined,
  headRev: number,
  addStale: (key: string, size: number, rev: number) => Promise<void>,
): Promise<string[]> {
  // Keys the client holds and the store does not serve (yet): removed unless seen live.
  const pending = 'have' in request ? await request.have.toMap() : undefined;
  const removed: string[] = [];
  const withJson = policy.includesValue !== undefined;

  // Windows of SCAN_PAGE revs rather than `rev > a order by rev limit n` up to the head: right
  // after a bulk load the planner's row estimate is stale, it picks a bitmap scan plus sort
  // of every row after `a`, and a scan of the store costs O(n^2) (25 s at 1,000,000 keys).
  // A window bounds each page's work whatever the plan.
  const from = 'since' in request ? request.since : 0;
  for (let afterRev = from; afterRev < headRev; afterRev += SCAN_PAGE) {
    const untilRev = Math.min(headRev, afterRev + SCAN_PAGE);
    const page = await scanMeta(tx, storeId, { afterRev, untilRev, prefix: request.prefix, limit: SCAN_PAGE, withJson });
    for (const row of page) {
      if (row.deleted) {
        if (!pending && policy.includesKey(row.key)) removed.push(row.key);
        continue;
      }
      const synced =
        policy.includesKey(row.key) &&
        (!reachable || reachable.has(row.key)) &&
        // A byte value is passed as undefined (see StorePolicy.includesValue).
        (!withJson || policy.includesValue!(row.key, row.json === null ? undefined : JSON.parse(row.json)));
      if (!synced) continue;
      if (pending) {
        const held = pending.get(row.key);
        pending.delete(row.key);
        // By instant: a client may spell the server's ts differently (handshake-body/have-ts.ts at the edge).
        if (held === row.tsUs) continue;
      }
      await addStale(row.key, row.size, row.rev);
    }
  }
  if (pending) {
    const turns = new Turns();
    for (const key of pending.keys()) {
      removed.push(key);
      if (turns.due()) await turns.yield();
    }
  }
  return removed;
}

/** JSON text read per statement by the walk (a larger single value is read alone). */
const WALK_READ_BYTES = 4 * 1024 * 1024;

/**
 * JSON values of live keys for the walk, at most WALK_READ_BYTES of JSON text
 * (a larger single value alone; the live keys left over in `unread`); byte
 * values map to undefined. Values are parsed one at a time with a turn for
 * the event loop between them, so a read of large values does not hold other
 * requests up.
 */
async function readSomeValues(tx: Db, storeId: string, keys: string[]): Promise<{ values: Map<string, unknown>; unread: string[] }> {
  const { texts, unread } = await readJsonSome(tx, storeId, keys, WALK_READ_BYTES);
  const values = new Map<string, unknown>();
  let turnStarted = performance.now();
  for (const [key, json] of texts) {
    values.set(key, json === null ? undefined : JSON.parse(json));
    if (performance.now() - turnStarted > 4) {
      await new Promise((resolve) => setImmediate(resolve));
      turnStarted = performance.now();
    }
  }
  return { values, unread };
}

/** Every value asked for, as a library `walk` function expects from `read`. */
async function readAllValues(readSome: ReadSome, keys: string[]): Promise<Map<string, unknown>> {
  const all = new Map<string, unknown>();
  for (let pending = keys; pending.length > 0; ) {
    const { values, unread } = await readSome(pending);
    for (const [key, value] of values) all.set(key, value);
    pending = unread;
  }
  return all;
}
