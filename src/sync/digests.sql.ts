/**
 * The first step of a digest handshake (docs/API.md, "Digests"): the store's
 * served keys folded into bucket digests by the database, compared with the
 * replica's, and the buckets that differ named.
 *
 * The database folds with hashtextextended, the function the replica's
 * DigestFolder (@keysync/protocol) computes, so no row reaches JavaScript:
 * each statement folds the next run of keys in key order (the primary key)
 * and returns one digest per bucket it touched, which are XORed together
 * here. Runs are bounded, so no statement holds an embedded server's thread
 * for long; all read one repeatable-read snapshot, whose head rev and
 * options version the answer carries: the handshake that follows is told
 * what changed after that rev (digest-diff.sql.ts).
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { preparedTx } from '../db/prepared.js';
import { stores } from '../db/schema.js';
import { DomainError, notFound } from '../domain-errors.js';
import type { StorePolicy } from '../options/index.js';
import { prefixSuccessor } from '../store/prefix-range.js';
import { nextTurn } from './event-loop.js';
import { keyFilterSql } from './have-diff.sql.js';

export interface DigestRequest {
  /** a power of two */
  buckets: number;
  /** the replica's digests, 8 bytes per bucket, big-endian */
  digests: Uint8Array;
  prefix?: string;
}

export interface DigestAnswer {
  /** the store's head rev in the snapshot the digests were taken from */
  rev: number;
  optionsVersion: number;
  buckets: number;
  /** buckets whose digests differ, ascending */
  differ: number[];
}

/** Keys folded per statement: about 10-20 ms of work on PostgreSQL, 30-40 on PGlite. */
const KEYS_PER_STEP = 20_000;

/**
 * $1 store id, $2 the lowest key, $3 the key the previous step ended at,
 * $4 keys per step, $5/$6 the key filter, $7 the bucket mask, then the
 * prefix's end if any. Each digest comes back as two int4 halves (an int8
 * would reach JavaScript as a string on one driver and a bigint on the
 * other); the last row names the step's last key when the step was full.
 */
const foldSql = (upper: string) => `with e as materialized (
    select key, ts_us from entries
    where store_id = $1::uuid and key >= $2::text and key > $3::text${upper}
      and not deleted and ${keyFilterSql('$5', '$6')}
    order by key limit $4::int),
  d as (select (hashtextextended(key, 0) & $7::bigint)::int as bucket, bit_xor(hashtextextended(key, ts_us)) as digest from e group by 1)
  select bucket, (digest >> 32)::int as hi, ((digest & 4294967295) - 2147483648)::int as lo, null::text as upto from d
  union all select null, null, null, max(key) from e having count(*) = $4::int`;

const FOLD_SQL = { open: foldSql(''), below: foldSql(' and key < $8::text') };

/** Whether a store's policy can be folded in the database: keys by prefix at most (a walk or a value filter decides per value). */
export const foldsInDatabase = (policy: StorePolicy): policy is StorePolicy & { keyFilter: NonNullable<StorePolicy['keyFilter']> } =>
  policy.keyFilter !== undefined && !policy.walk && !policy.includesValue;

export const digestsUnusable = (why: string) => new DomainError('digests-unusable', `${why}; handshake with the whole "have" map`);

export async function compareDigests(
  db: Db,
  storeId: string,
  request: DigestRequest,
  policyFor: (options: Record<string, unknown>) => StorePolicy,
): Promise<DigestAnswer> {
  return db.transaction(
    async (txRaw) => {
      const tx = txRaw as unknown as Db;
      const [store] = await tx
        .select({ headRev: stores.headRev, optionsVersion: stores.optionsVersion, options: stores.options })
        .from(stores)
        .where(eq(stores.id, storeId));
      if (!store) throw notFound(`store ${storeId}`);
      const policy = policyFor(store.options as Record<string, unknown>);
      if (!foldsInDatabase(policy)) throw digestsUnusable("this store's options decide per value (walk or value filter)");
      const words = await foldStore(preparedTx(tx), storeId, request.buckets, request.prefix, policy.keyFilter);
      return { rev: store.headRev, optionsVersion: store.optionsVersion, buckets: request.buckets, differ: differing(words, request.digests) };
    },
    { isolationLevel: 'repeatable read' },
  );
}

/** The store's digests under `prefix`, as DigestFolder.words holds them (high, low per bucket). */
async function foldStore(
  query: ReturnType<typeof preparedTx>,
  storeId: string,
  buckets: number,
  prefix: string | undefined,
  filter: NonNullable<StorePolicy['keyFilter']>,
): Promise<Int32Array> {
  const words = new Int32Array(2 * buckets);
  const end = prefix ? prefixSuccessor(prefix) : undefined;
  for (let after = ''; ; ) {
    await nextTurn();
    const params: unknown[] = [storeId, prefix ?? '', after, KEYS_PER_STEP, [...filter.prefixes], [...filter.excludePrefixes], buckets - 1];
    if (end !== undefined) params.push(end);
    const rows = await query<{ bucket: number | null; hi: number | null; lo: number | null; upto: string | null }>(
      end === undefined ? FOLD_SQL.open : FOLD_SQL.below,
      params,
    );
    let upto: string | undefined;
    for (const row of rows) {
      if (row.upto !== null) upto = row.upto;
      else {
        words[2 * row.bucket!]! ^= row.hi!;
        words[2 * row.bucket! + 1]! ^= (row.lo! + 2147483648) | 0;
      }
    }
    if (upto === undefined) return words;
    after = upto;
  }
}

/** Buckets whose digest in `words` differs from the replica's `digests` (8 big-endian bytes each). */
function differing(words: Int32Array, digests: Uint8Array): number[] {
  const view = new DataView(digests.buffer, digests.byteOffset, digests.byteLength);
  const differ: number[] = [];
  for (let b = 0; 2 * b < words.length; b++) {
    if (view.getInt32(8 * b) !== words[2 * b] || view.getInt32(8 * b + 4) !== words[2 * b + 1]) differ.push(b);
  }
  return differ;
}
