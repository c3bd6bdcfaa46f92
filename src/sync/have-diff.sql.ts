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
 * slice covers, at most as many as a step takes; the two are joined in the
 * database and only what differs comes back:
 * - the rev of each entry the store serves that the client lacks or holds at
 *   another ts (stale);
 * - each key of the slice the store does not serve: absent, deleted, or
 *   outside the store's key filter (removed).
 * A step that reads that many entries stops at the last one (`upto`)
 * and the next step goes on from there, so both sides of every statement
 * are bounded whatever the gaps between the client's keys. No statement
 * runs long, which matters on PGlite, whose statements run on the server's
 * own thread: a step's size follows the time the last one took, aiming at
 * STEP_MS, and the event loop gets a turn (I/O included) before each.
 *
 * Stale keys are found in key order but are delivered in rev order: their
 * revs are held (8 bytes each) until the walk ends, then their keys are read
 * back in rev order (readStaleKeys). Everything runs in the handshake's
 * repeatable-read transaction, so both reads see one snapshot.
 */
import type { BigintColumn, PreparedQuery } from '../db/prepared.js';
import { ENTRY_SIZE_SQL } from '../store/entry-sql.js';
import { prefixSuccessor } from '../store/prefix-range.js';
import { nextTurn } from './event-loop.js';
import type { HaveList } from './have-list.js';

/** Client keys sent and store entries read (at most) per statement; `parts` (tests) splits even a small map. */
export interface DiffSizes {
  keys: number;
  entries: number;
  parts?: number;
}

/**
 * The time a step aims at: short enough that the event loop of an embedded
 * server is held no longer than by one batch read, long enough to amortise a
 * statement (about 1-2 ms each on PGlite, planning included). 100k
 * up-to-date keys, A/B in turns: 10 ms steps 576 ms on PGlite and 284 ms on
 * PostgreSQL, 25 ms steps 457 and 258 ms (the steps then reach STEP.max on PGlite).
 */
const STEP_MS = 25;
/** A step's client keys and store entries: the first step's, and the bounds of the later ones. */
const STEP = { first: 2000, min: 250, max: 10_000 };
/**
 * Keys a comparison reads from which it runs in parts, one per connection
 * (below that, one statement's work or two): a map's keys, or for digest
 * buckets the store's, whose whole key range is read for the few keys of the
 * listed buckets.
 */
export const PARTS_FROM_KEYS = 20_000;
/** Stale keys read back per statement. */
const STALE_PER_READ = 2000;

/** Whether `key` passes a key filter given as two text[] parameters: its prefixes (none: every key) and its excluded prefixes. */
export const keyFilterSql = (prefixes: string, excluded: string) =>
  `(cardinality(${prefixes}::text[]) = 0 or key ^@ any(${prefixes}::text[])) and not key ^@ any(${excluded}::text[])`;

/** The client's slice as rows (key, ts): from JSON arrays, or from a plain list's text (see stepSql). */
const SLICE_ROWS = {
  json: 'rows from (json_array_elements_text($7::text::json), json_array_elements_text($8::text::json))',
  text: `rows from (unnest(string_to_array($7::text, '","')), unnest(string_to_array($8::text, ',', 'null')))`,
};

/**
 * One step. $1 store id, $2 the lowest key (the handshake's prefix, or ''),
 * $3 the key the previous step ended at ('' at first: keys are never
 * empty), $4 entries per step, $5 and $6 the key filter's prefixes and
 * excluded prefixes, $7 and $8 the slice's keys and micros (null for a ts
 * finer than a microsecond, which equals none); for a comparison of some
 * digest buckets only (digest-diff.sql.ts), $9 the buckets' bitmap and $10
 * the bucket mask; then the range's upper bound, if any (see STEP_SQL).
 * Comparisons of keys take the column's "C" collation.
 *
 * The slice goes as text, which the drivers pass on as it is: as two JSON
 * arrays, or, for a plain list (have-list.ts: no key JSON escapes), as the
 * keys separated by `","` and the micros by commas, which the database
 * splits in about 60% of the time it takes to parse the JSON (10,000 keys:
 * 18 ms against 29 ms a statement on PGlite).
 */
const stepSql = (upper: string, slice: string, buckets: string) => `with e as materialized (
    select key, rev, ts_us,
      not deleted and ${keyFilterSql('$5', '$6')} as served
    from entries
    where store_id = $1::uuid and key >= $2::text and key > $3::text${upper}${buckets}
    order by key limit $4::int),
  upto as (select max(key) as key from e having count(*) = $4::int),
  h as (select key, ts::bigint as ts_us from ${slice} as h(key, ts))
  select case when e.served then e.rev end as stale, case when e.served then null else h.key end as removed, null::text as upto
  from h full join e on e.key = h.key
  where case when e.served then h.key is null or h.ts_us is distinct from e.ts_us
    else h.key is not null and not exists (select from upto where h.key > upto.key) end
  union all select null, null, key from upto`;

/** Whether a key's digest bucket is set in the bitmap $n (get_bit numbers bits from the low bit of the first byte). */
export const inBucketsSql = (bitmap: string, mask: string) => `get_bit(${bitmap}::bytea, (hashtextextended(key, 0) & ${mask}::bigint)::int) = 1`;

const stepSqls = (slice: string, bucketed: boolean) => {
  const buckets = bucketed ? ` and ${inBucketsSql('$9', '$10')}` : '';
  const upper = bucketed ? '$11' : '$9';
  return {
    /** more client keys follow: the range ends at the slice's last key */
    atMost: stepSql(` and key <= ${upper}::text`, slice, buckets),
    /** the last slice under a prefix: the range ends where the prefix does */
    below: stepSql(` and key < ${upper}::text`, slice, buckets),
    /** the last slice, no upper bound */
    open: stepSql('', slice, buckets),
  };
};

/** Exported for test/sync/index-only.test.ts, which checks that they read the primary key alone. */
export const STEP_SQL = {
  json: stepSqls(SLICE_ROWS.json, false),
  text: stepSqls(SLICE_ROWS.text, false),
  bucketed: { json: stepSqls(SLICE_ROWS.json, true), text: stepSqls(SLICE_ROWS.text, true) },
};

/**
 * The stale keys of a page of revs, by one probe of (store_id, rev) per rev.
 * Written as a join with the list, not `rev = any($2)`: after a bulk load,
 * with statistics that still count a few rows per store, the planner read
 * `= any` as a filter over every entry of the store (25 ms for 1,000 revs of
 * 100,000 entries, against 4 ms probed).
 */
const STALE_KEYS = `select e.key, ${ENTRY_SIZE_SQL} as size, e.rev
  from unnest($2::bigint[]) as r(rev) join entries e on e.store_id = $1::uuid and e.rev = r.rev order by e.rev`;

/** Digest buckets a comparison is limited to (digest-diff.sql.ts): keys of other buckets are left out on both sides. */
export interface BucketFilter {
  /** bit i set: bucket i is compared (get_bit order) */
  bitmap: Uint8Array;
  /** the bucket count less one */
  mask: number;
}

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

/** The next step's size after one of `size` took `ms`: towards STEP_MS, at most halved or doubled. */
const nextSize = (size: number, ms: number) => Math.round(Math.min(STEP.max, Math.max(STEP.min, size * Math.min(2, Math.max(0.5, STEP_MS / ms)))));

/** What every part of one comparison needs, and the stale count they share. */
interface DiffRun {
  storeId: string;
  have: HaveList;
  /** the lowest key (the prefix, or '') and the prefix's end, if any */
  lowest: string;
  end: string | undefined;
  include: string[];
  exclude: string[];
  maxStale: number;
  sizes: DiffSizes | undefined;
  buckets: BucketFilter | undefined;
  /** stale keys found by all parts so far */
  stale: number;
}

/** Client keys [from, to) of the map, and the store's key range they cover (`last`: up to the end, else up to key to - 1). */
interface Part {
  from: number;
  to: number;
  last: boolean;
}

/**
 * Compares the client's keys under `prefix` with the store; undefined once
 * more than `maxStale` keys are stale (the caller then compares another way:
 * the revs held would grow with the store). `sizes` fixes the steps' sizes
 * (tests); by default they follow the time steps take.
 *
 * With several `queries` (connections that read one snapshot, which
 * handshake.ts gives for PARTS_FROM_KEYS keys or more), the map is cut into
 * that many runs of consecutive keys, each merged with its own key range of
 * the store on its own connection at the same time; the results join in key
 * order.
 * The database then works on as many cores, while the server and the client
 * wait for it.
 */
export async function diffHave(
  queries: readonly PreparedQuery[],
  storeId: string,
  have: HaveList,
  prefix: string | undefined,
  filter: KeyPrefixes,
  maxStale: number,
  sizes?: DiffSizes,
  buckets?: BucketFilter,
): Promise<HaveDiff | undefined> {
  const run: DiffRun = {
    storeId,
    have,
    lowest: prefix ?? '',
    end: prefix ? prefixSuccessor(prefix) : undefined,
    include: [...filter.prefixes],
    exclude: [...filter.excludePrefixes],
    maxStale,
    sizes,
    buckets,
    stale: 0,
  };
  const count = Math.max(1, Math.min(sizes?.parts ?? queries.length, have.size));
  const parts: Part[] = [];
  for (let i = 0; i < count; i++) {
    parts.push({ from: Math.floor((have.size * i) / count), to: Math.floor((have.size * (i + 1)) / count), last: i === count - 1 });
  }
  const found = await Promise.all(parts.map((part, i) => diffPart(queries[i % queries.length]!, run, part)));
  if (found.some((f) => f === undefined)) return undefined;
  const staleRevs = new Float64Array(found.reduce((n, f) => n + f!.staleRevs.length, 0));
  let at = 0;
  for (const f of found) {
    staleRevs.set(f!.staleRevs, at);
    at += f!.staleRevs.length;
  }
  return { staleRevs, removed: found.flatMap((f) => f!.removed) };
}

/** One part of the merge (see diffHave): its steps, one statement each; undefined once the run has too many stale keys. */
async function diffPart(query: PreparedQuery, run: DiffRun, part: Part): Promise<HaveDiff | undefined> {
  const { have, sizes } = run;
  let revs = new Float64Array(1024);
  let stale = 0;
  const removed: string[] = [];
  // The store's keys after the previous part's last client key are this part's.
  let after = part.from === 0 ? '' : have.key(part.from - 1);
  let size = STEP.first;
  // The slice's form, the same for every step: split text for a plain list, else JSON arrays (see stepSql).
  const forms = run.buckets ? STEP_SQL.bucketed : STEP_SQL;
  const sqls = have.plain ? forms.text : forms.json;
  const slice = have.plain
    ? (from: number, to: number) => [have.keysText(from, to), have.microsText(from, to)]
    : (from: number, to: number) => [have.keysJson(from, to), have.microsJson(from, to)];
  for (let from = part.from; ; ) {
    const to = Math.min(part.to, from + (sizes?.keys ?? size));
    const more = to < part.to || !part.last;
    const params: unknown[] = [run.storeId, run.lowest, after, sizes?.entries ?? size, run.include, run.exclude, ...slice(from, to)];
    if (run.buckets) params.push(run.buckets.bitmap, run.buckets.mask);
    let sql = sqls.open;
    if (more) {
      sql = sqls.atMost;
      params.push(have.key(to - 1));
    } else if (run.end !== undefined) {
      sql = sqls.below;
      params.push(run.end);
    }
    await nextTurn();
    if (run.stale > run.maxStale) return undefined;
    const started = performance.now();
    const rows = await query<{ stale: string | number | null; removed: string | null; upto: string | null }>(sql, params);
    size = nextSize(size, performance.now() - started);
    let upto: string | undefined;
    for (const row of rows) {
      if (row.stale !== null) {
        if (stale === revs.length) {
          const grown = new Float64Array(revs.length * 2);
          grown.set(revs);
          revs = grown;
        }
        revs[stale++] = Number(row.stale);
        run.stale++;
      } else if (row.removed !== null) removed.push(row.removed);
      else upto = row.upto!;
    }
    if (run.stale > run.maxStale) return undefined;
    if (upto !== undefined) {
      // The step read its most entries: the client's keys after the last one go again.
      from = have.indexAfter(upto, from, to);
      after = upto;
    } else if (to < part.to) {
      from = to;
      after = have.key(to - 1);
    } else break;
  }
  return { staleRevs: revs.subarray(0, stale), removed };
}

/** The stale entries' keys and value sizes (as scanMeta gives them), in rev order. */
export async function readStaleKeys(
  query: PreparedQuery,
  storeId: string,
  staleRevs: Float64Array,
  each: (key: string, size: number, rev: number) => Promise<void>,
): Promise<void> {
  const revs = staleRevs.slice().sort();
  for (let from = 0; from < revs.length; from += STALE_PER_READ) {
    await nextTurn();
    const rows = await query<{ key: string; size: number; rev: BigintColumn }>(STALE_KEYS, [storeId, Array.from(revs.subarray(from, from + STALE_PER_READ))]);
    for (const row of rows) await each(row.key, row.size, Number(row.rev));
  }
}
