/**
 * The handshake's `have` comparison done by the database, for stores whose
 * policy syncs keys by prefix at most (no walk, no value filter: those
 * decide per value in JavaScript, and the handshake compares in JavaScript
 * for them; see handshake.ts).
 *
 * A merge of two sorted runs, a step per statement: the client's keys in
 * code point order (have-list.ts) and the store's entries in key order (its
 * primary key, `COLLATE "C"`, the same order). Each step sends the next
 * slice of the client's keys and reads the entries of the key range that
 * slice covers, at most DIFF_SIZES.entries of them; the two are joined in the
 * database and only what differs comes back:
 * - the rev of each entry the store serves that the client lacks or holds at
 *   another ts (stale);
 * - each key of the slice the store does not serve: absent, deleted, or
 *   outside the store's key filter (removed).
 * A step that reads that many entries stops at the last one (`upto`)
 * and the next step goes on from there, so both sides of every statement
 * are bounded whatever the gaps between the client's keys: no statement
 * runs long, which matters on PGlite, whose statements run on the server's
 * own thread. The event loop gets a turn between statements.
 *
 * Stale keys are found in key order but are delivered in rev order: their
 * revs are held (8 bytes each) until the walk ends, then their keys are read
 * back in rev order (readStaleKeys). Everything runs in the handshake's
 * repeatable-read transaction, so both reads see one snapshot.
 */
import type { PreparedQuery } from '../db/prepared.js';
import { prefixSuccessor } from '../store/keys.js';
import type { HaveList } from './have-list.js';

/** Client keys sent and store entries read (at most) per statement. */
export interface DiffSizes {
  keys: number;
  entries: number;
}

export const DIFF_SIZES: DiffSizes = { keys: 5000, entries: 5000 };
/** Stale keys read back per statement. */
const STALE_PER_READ = 5000;

/**
 * One step. $1 store id, $2 the lowest key (the handshake's prefix, or ''),
 * $3 the key the previous step ended at ('' at first: keys are never
 * empty), $4 entries per step, $5 and $6 the key filter's prefixes and
 * excluded prefixes, $7 and $8 the slice's keys and micros (null for a ts
 * finer than a microsecond, which equals none), $9 the range's upper bound
 * (see STEP). Comparisons of keys take the column's "C" collation.
 */
const stepSql = (upper: string) => `with e as materialized (
    select key, rev, ts_us,
      not deleted and (cardinality($5::text[]) = 0 or key ^@ any($5::text[])) and not key ^@ any($6::text[]) as served
    from entries
    where store_id = $1::uuid and key >= $2::text and key > $3::text${upper}
    order by key limit $4::int),
  upto as (select max(key) as key from e having count(*) = $4::int)
  select case when e.served then e.rev end as stale, case when e.served then null else h.key end as removed, null::text as upto
  from unnest($7::text[], $8::bigint[]) as h(key, ts_us) full join e on e.key = h.key
  where case when e.served then h.key is null or h.ts_us is distinct from e.ts_us
    else h.key is not null and not exists (select from upto where h.key > upto.key) end
  union all select null, null, key from upto`;

const STEP = {
  /** more client keys follow: the range ends at the slice's last key */
  atMost: stepSql(' and key <= $9::text'),
  /** the last slice under a prefix: the range ends where the prefix does */
  below: stepSql(' and key < $9::text'),
  /** the last slice, no upper bound */
  open: stepSql(''),
};

const STALE_KEYS = `select key, coalesce(octet_length(json), (octet_length(bytes) + 2) / 3 * 4, 0)::int as size
  from entries where store_id = $1::uuid and rev = any($2::bigint[]) order by rev`;

/** A key filter as prefixes (StorePolicy.keyFilter). */
export interface KeyPrefixes {
  readonly prefixes: readonly string[];
  readonly excludePrefixes: readonly string[];
}

export interface HaveDiff {
  /** revs of the stale entries, in key order */
  staleRevs: Float64Array;
  /** client keys the store does not serve, in key order */
  removed: string[];
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Compares the client's keys under `prefix` with the store; undefined once
 * more than `maxStale` keys are stale (the caller then compares another way:
 * the revs held would grow with the store).
 */
export async function diffHave(
  query: PreparedQuery,
  storeId: string,
  have: HaveList,
  prefix: string | undefined,
  filter: KeyPrefixes,
  maxStale: number,
  sizes: DiffSizes = DIFF_SIZES,
): Promise<HaveDiff | undefined> {
  const lowest = prefix ?? '';
  const end = prefix ? prefixSuccessor(prefix) : undefined;
  const include = [...filter.prefixes];
  const exclude = [...filter.excludePrefixes];
  let revs = new Float64Array(1024);
  let stale = 0;
  const removed: string[] = [];
  let after = '';
  for (let from = 0; ; ) {
    const to = Math.min(have.size, from + sizes.keys);
    const more = to < have.size;
    const params: unknown[] = [storeId, lowest, after, sizes.entries, include, exclude, have.keys(from, to), have.micros(from, to)];
    let sql = STEP.open;
    if (more) {
      sql = STEP.atMost;
      params.push(have.key(to - 1));
    } else if (end !== undefined) {
      sql = STEP.below;
      params.push(end);
    }
    let upto: string | undefined;
    for (const row of await query<{ stale: string | number | null; removed: string | null; upto: string | null }>(sql, params)) {
      if (row.stale !== null) {
        if (stale === revs.length) {
          const grown = new Float64Array(revs.length * 2);
          grown.set(revs);
          revs = grown;
        }
        revs[stale++] = Number(row.stale);
      } else if (row.removed !== null) removed.push(row.removed);
      else upto = row.upto!;
    }
    if (stale > maxStale) return undefined;
    if (upto !== undefined) {
      // The step read its most entries: the client's keys after the last one go again.
      from = have.indexAfter(upto, from, to);
      after = upto;
    } else if (more) {
      from = to;
      after = have.key(to - 1);
    } else break;
    await nextTurn();
  }
  return { staleRevs: revs.subarray(0, stale), removed };
}

/** The stale entries' keys and value sizes (as scanMeta gives them), in rev order. */
export async function readStaleKeys(
  query: PreparedQuery,
  storeId: string,
  staleRevs: Float64Array,
  each: (key: string, size: number) => Promise<void>,
): Promise<void> {
  const revs = staleRevs.slice().sort();
  for (let from = 0; from < revs.length; from += STALE_PER_READ) {
    if (from > 0) await nextTurn();
    const rows = await query<{ key: string; size: number }>(STALE_KEYS, [storeId, Array.from(revs.subarray(from, from + STALE_PER_READ))]);
    for (const row of rows) await each(row.key, row.size);
  }
}
