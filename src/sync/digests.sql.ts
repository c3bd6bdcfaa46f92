/**
 * The first step of a digest handshake (docs/API.md, "Digests"): the store's
 * served keys folded into bucket digests by the database, compared with the
 * replica's, and the buckets that differ named; or, when the replica sent
 * none, the store's digests for the replica to compare (it folds its own
 * while the database folds the store's).
 *
 * The database folds with hashtextextended, the function the replica's
 * DigestFolder (@keysync/protocol) computes, so no row reaches JavaScript: a
 * statement returns the digest of each bucket it touched. PostgreSQL folds
 * the whole key range in one statement. On PGlite, whose statements run on
 * the server's own thread, keys are folded in steps of STEP_KEYS in key
 * order (XORed together here), so that no statement holds other requests
 * up for long. A step returns each key's bucket and hash rather than a
 * digest per bucket: with about a key per bucket touched, grouping cost
 * the step more than it saved (1,000,000 keys in 131,072 buckets on
 * PGlite: 826-994 ms grouped, 585-609 ms per key). All read one
 * repeatable-read snapshot, whose head rev and options version the answer
 * carries: the handshake that follows is told what changed after that rev
 * (digest-diff.sql.ts).
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { preparedDb, preparedTx, runsInProcess, type PreparedQuery } from '../db/prepared.js';
import { DomainError } from '../domain-errors.js';
import { differingBuckets, digestBytes, type components } from '@keysync/protocol';
import { decidesByKeyPrefix, type StorePolicy } from '../options/index.js';
import { prefixSuccessor } from '../store/prefix-range.js';
import { nextTurn } from './event-loop.js';
import { keyFilterSql, type KeyPrefixes } from './have-diff.sql.js';
import { type DigestFolds, type FoldIdentity, foldKey } from './digest-folds.js';
import { readSyncStoreRow, type SyncStoreRow } from './sync-store-row.sql.js';

export interface DigestRequest {
  /** a power of two */
  buckets: number;
  /** the replica's digests, 8 bytes per bucket, big-endian; none: the answer carries the store's */
  digests?: Uint8Array;
  prefix?: string;
}

/** The buckets that differ (or the store's digests), at the store's head rev in the snapshot the digests were taken from. */
export type DigestAnswer = components['schemas']['DigestAnswer'];

/** Keys per step on PGlite: about 25-40 ms of its thread. */
const STEP_KEYS = 20_000;

/**
 * A fold statement and its parameters: $1 store id, $2 the bucket mask,
 * then only the conditions this fold needs (each one a store-wide
 * statement pays for on every row: 100,000 keys took 49 ms without a key
 * range and filter, 92 ms with the same conditions always true). One row:
 * the digests as bytes, 12 per record (a bucket's number, 4 bytes, and a
 * digest to XOR into it, 8, both big-endian): one record per bucket
 * touched, or stepped, one per key; and, stepped, the last key of a full
 * step. Records, not rows: tens of thousands of buckets cost the drivers
 * far more as rows, and the server more as decimal text. (On PGlite the
 * bytes cross as hex, which db/client.ts decodes with node:buffer: PGlite's
 * own decoder took 14-20 ms of a 20-27 ms step of 20,000 keys.)
 */
export function foldStatement(storeId: string, mask: number, range: KeyRange, filter: KeyPrefixes, step: { after: string; keys?: number } | undefined) {
  const params: unknown[] = [storeId, mask];
  const param = (value: unknown) => `$${params.push(value)}`;
  let where = '';
  if (step) where += ` and key > ${param(step.after)}::text`;
  if (range.lowest) where += ` and key >= ${param(range.lowest)}::text`;
  if (range.end !== undefined) where += ` and key < ${param(range.end)}::text`;
  if (filter.prefixes.length > 0 || filter.excludePrefixes.length > 0) {
    where += ` and ${keyFilterSql(param([...filter.prefixes]), param([...filter.excludePrefixes]))}`;
  }
  const limit = step ? param(step.keys ?? STEP_KEYS) : '';
  const rows = ` from entries where store_id = $1::uuid and not deleted${where}`;
  const text = step
    ? `with e as materialized (select key, ts_us${rows} order by key limit ${limit}::int)
  select (select string_agg(int4send((hashtextextended(key, 0) & $2::bigint)::int) || int8send(hashtextextended(key, ts_us)), ''::bytea) from e) as digests,
    (select max(key) from e having count(*) = ${limit}::int) as upto`
    : `with d as (select (hashtextextended(key, 0) & $2::bigint) as bucket, bit_xor(hashtextextended(key, ts_us)) as digest${rows} group by 1)
  select (select string_agg(int4send(bucket::int) || int8send(digest), ''::bytea) from d) as digests, null::text as upto`;
  return { text, params };
}

export interface KeyRange {
  /** the prefix, or '' */
  lowest: string;
  /** the prefix's end, if any */
  end: string | undefined;
}

/**
 * Refuses digests for a store the database cannot fold (a walk or a value
 * filter decides per value), and a digest handshake whose digests were
 * taken under other options (`optionsVersion`: the buckets then matched
 * another key filter).
 */
export function assertDigestsUsable(
  policy: StorePolicy,
  optionsVersion: number,
  digestsOptionsVersion = optionsVersion,
): asserts policy is StorePolicy & {
  keyFilter: NonNullable<StorePolicy['keyFilter']>;
} {
  const why = !decidesByKeyPrefix(policy)
    ? "this store's options decide per value (walk or value filter)"
    : digestsOptionsVersion !== optionsVersion
      ? "the store's options changed since the digests were taken"
      : undefined;
  if (why) throw new DomainError('digests-unusable', `${why}; handshake with the whole "have" map`);
}

/** A request that carries the replica's digests, and its answer, which names the buckets that differ. */
type ReplicaDigests = DigestRequest & { digests: Uint8Array };
type DigestComparison = DigestAnswer & { differ: number[] };

/** How a store's options compile into its policy (the server's PolicyRegistry). */
type PolicyFor = (options: Record<string, unknown>) => StorePolicy;

/** The replica's digests compared with the store's (`differ`), or without them the store's digests (`digests`). */
export async function compareDigests(db: Db, storeId: string, request: ReplicaDigests, policyFor: PolicyFor, folds?: DigestFolds): Promise<DigestComparison>;
export async function compareDigests(db: Db, storeId: string, request: DigestRequest, policyFor: PolicyFor, folds?: DigestFolds): Promise<DigestAnswer>;
export async function compareDigests(db: Db, storeId: string, request: DigestRequest, policyFor: PolicyFor, folds?: DigestFolds): Promise<DigestAnswer> {
  if (folds && folds.maxBytes > 0) {
    // A fold of the store as it is now, done or running for another request, answers this one
    // without a transaction (digest-folds.ts). Read alone, the store row costs a short statement.
    const store = await readSyncStoreRow(preparedDb(db).query, storeId);
    assertDigestsUsable(policyFor(store.options), store.optionsVersion);
    const words = await folds.reuse(foldKey(foldIdentity(storeId, store, request)));
    if (words) return digestAnswer(store, request, words);
  }
  return db.transaction(
    async (txRaw) => {
      const tx = txRaw as unknown as Db;
      const query = preparedTx(tx);
      const store = await readSyncStoreRow(query, storeId);
      const policy = policyFor(store.options);
      assertDigestsUsable(policy, store.optionsVersion);
      const stepped = runsInProcess(db);
      const fold = async () => {
        // A step reads its keys in key order from the primary key. Right after a bulk load the
        // planner's row estimates are stale, and it would rather read every key of the store and
        // sort them for each step (80 ms for a step of 20,000 keys of 100,000, against 37).
        if (stepped) await tx.execute(sql`set local enable_bitmapscan = off`);
        return foldStore(query, storeId, request.buckets, request.prefix, policy.keyFilter, stepped ? STEP_KEYS : undefined);
      };
      const words = folds ? await folds.run(foldKey(foldIdentity(storeId, store, request)), fold) : await fold();
      return digestAnswer(store, request, words);
    },
    { isolationLevel: 'repeatable read' },
  );
}

function foldIdentity(storeId: string, store: SyncStoreRow, request: DigestRequest): FoldIdentity {
  const { createdUs, headRev, optionsVersion } = store;
  return { storeId, createdUs, headRev, optionsVersion, buckets: request.buckets, prefix: request.prefix };
}

/** The answer from the store's words, at the head rev of the store row they were folded at. */
function digestAnswer(store: SyncStoreRow, request: DigestRequest, words: Int32Array): DigestAnswer {
  const basis = { rev: store.headRev, optionsVersion: store.optionsVersion, buckets: request.buckets };
  return request.digests
    ? { ...basis, differ: differingBuckets(words, request.digests) }
    : { ...basis, digests: Buffer.from(digestBytes(words)).toString('base64') };
}

/**
 * The store's digests under `prefix`, as DigestFolder.words holds them
 * (high, low per bucket): in one statement, or in steps of `stepKeys` keys.
 * Exported for test/sync/digest-diff.test.ts, which folds every way.
 */
export async function foldStore(
  query: PreparedQuery,
  storeId: string,
  buckets: number,
  prefix: string | undefined,
  filter: KeyPrefixes,
  stepKeys: number | undefined,
): Promise<Int32Array> {
  const words = new Int32Array(2 * buckets);
  const range = { lowest: prefix ?? '', end: prefix ? prefixSuccessor(prefix) : undefined };
  for (let after = ''; ; ) {
    await nextTurn();
    const { text, params } = foldStatement(storeId, buckets - 1, range, filter, stepKeys === undefined ? undefined : { after, keys: stepKeys });
    const [row] = await query<{ digests: Uint8Array | null; upto: string | null }>(text, params);
    if (row!.digests !== null) foldBytes(words, row!.digests);
    if (row!.upto === null) return words;
    after = row!.upto;
  }
}

/** XORs digests given as 12 bytes per record (bucket number, digest; big-endian) into `words`. */
function foldBytes(words: Int32Array, bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.byteLength; at += 12) {
    const bucket = view.getInt32(at);
    words[2 * bucket]! ^= view.getInt32(at + 4);
    words[2 * bucket + 1]! ^= view.getInt32(at + 8);
  }
}
