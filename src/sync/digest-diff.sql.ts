/**
 * The second step of a digest handshake (docs/API.md, "Digests"): a `have`
 * map that lists only the keys of some buckets (`listed`), with the rev R at
 * which the replica's other buckets matched the store (digests.sql.ts).
 *
 * - Listed buckets are compared key by key, as a whole `have` map is
 *   (have-diff.sql.ts), with the store's side limited to keys of those
 *   buckets.
 * - Every other bucket held exactly what the store served at R, so only what
 *   changed after R can differ there, as for a `since` handshake: entries
 *   after R that the store serves are stale, the others (deleted, or outside
 *   the key filter) removed.
 *
 * Both read the handshake's snapshot. The caller checked R against the
 * purged tombstones and the head, and that the options did not change since
 * R (the filter applied then is the one applied now).
 */
import type { components } from '@keysync/protocol';
import type { PreparedQuery } from '../db/prepared.js';
import { prefixSuccessor } from '../store/prefix-range.js';
import { nextTurn } from './event-loop.js';
import { diffHave, inBucketsSql, keyFilterSql, type BucketFilter, type DiffSizes, type HaveDiff, type KeyPrefixes } from './have-diff.sql.js';
import type { HaveList } from './have-list.js';

/** What the replica's digests matched: the answer of the first step, and the buckets its `have` map lists (each below `buckets`). */
export type DigestBasis = components['schemas']['DigestBasis'];

/** Revs scanned per statement after R (a window bounds the work whatever the plan; see handshake.ts diffInJs). */
const SCAN_REVS = 5000;

/** $1 store, $2/$3 the rev window, $4 lowest key, $5/$6 key filter, $7 bitmap, $8 mask, then the prefix's end. */
const changedSql = (upper: string) => `select rev, key, not deleted and ${keyFilterSql('$5', '$6')} as served from entries
  where store_id = $1::uuid and rev > $2::bigint and rev <= $3::bigint and key >= $4::text${upper} and not (${inBucketsSql('$7', '$8')})
  order by rev`;

const CHANGED_SQL = { open: changedSql(''), below: changedSql(' and key < $9::text') };

/** The listed buckets as the bitmap SQL reads (bit b of byte b >> 3 from the low bit: get_bit's order). */
export function bucketBitmap(basis: DigestBasis): BucketFilter {
  const bitmap = Buffer.alloc(Math.ceil(basis.buckets / 8));
  for (const b of basis.listed) bitmap[b >> 3]! |= 1 << (b & 7);
  return { bitmap, mask: basis.buckets - 1 };
}

/** Stale revs (unordered) and removed keys of a digest handshake. */
export async function diffDigest(
  queries: readonly PreparedQuery[],
  storeId: string,
  have: HaveList,
  basis: DigestBasis,
  headRev: number,
  prefix: string | undefined,
  filter: KeyPrefixes,
  sizes?: DiffSizes,
): Promise<HaveDiff> {
  const buckets = bucketBitmap(basis);
  // No bound on the stale revs held: there is no other way to compare here (8 bytes per stale key).
  const listed =
    basis.listed.length > 0
      ? (await diffHave(queries, storeId, have, prefix, filter, Number.POSITIVE_INFINITY, sizes, buckets))!
      : { staleRevs: new Float64Array(0), removed: [] };
  const changed = await changedAfter(queries[0]!, storeId, basis.rev, headRev, prefix, filter, buckets);
  const staleRevs = new Float64Array(listed.staleRevs.length + changed.staleRevs.length);
  staleRevs.set(listed.staleRevs);
  staleRevs.set(changed.staleRevs, listed.staleRevs.length);
  return { staleRevs, removed: [...listed.removed, ...changed.removed] };
}

/** Entries of the unlisted buckets written after `rev`: served ones stale, the others removed. */
async function changedAfter(
  query: PreparedQuery,
  storeId: string,
  rev: number,
  headRev: number,
  prefix: string | undefined,
  filter: KeyPrefixes,
  buckets: BucketFilter,
): Promise<HaveDiff> {
  const staleRevs: number[] = [];
  const removed: string[] = [];
  const end = prefix ? prefixSuccessor(prefix) : undefined;
  for (let after = rev; after < headRev; after += SCAN_REVS) {
    await nextTurn();
    const params: unknown[] = [
      storeId,
      after,
      Math.min(headRev, after + SCAN_REVS),
      prefix ?? '',
      [...filter.prefixes],
      [...filter.excludePrefixes],
      buckets.bitmap,
      buckets.mask,
    ];
    if (end !== undefined) params.push(end);
    const rows = await query<{ rev: string | number; key: string; served: boolean }>(end === undefined ? CHANGED_SQL.open : CHANGED_SQL.below, params);
    for (const row of rows) {
      if (row.served) staleRevs.push(Number(row.rev));
      else removed.push(row.key);
    }
  }
  return { staleRevs: Float64Array.from(staleRevs), removed };
}
