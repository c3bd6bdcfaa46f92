/**
 * The reads of a live feed's open, as prepared raw statements: the store row
 * the route needs (404, options) with its heads, then backlog pages that
 * carry the store's heads from the same snapshot. An idle feed opens with two
 * statements and little garbage: no query builder objects, no second look at
 * the store after the backlog.
 */
import type { Db } from '../db/client.js';
import { preparedDb } from '../db/prepared.js';
import { notFound } from '../domain-errors.js';
import type { SyncOptions } from '../options/index.js';
import { prefixSuccessor } from './prefix-range.js';
import type { EntryRow } from './reads.js';

export interface StoreHeads {
  headRev: number;
  purgedRev: number;
}

/** What opening a feed needs of the store; not-found when there is no such store. */
export async function feedStore(db: Db, storeId: string): Promise<StoreHeads & { options: SyncOptions; optionsVersion: number }> {
  const [row] = await preparedDb(db).query<{ options: string; options_version: string | number; head_rev: string | number; purged_rev: string | number }>(
    'select options::text as options, options_version, head_rev, purged_rev from stores where id = $1::uuid',
    [storeId],
  );
  if (!row) throw notFound(`store ${storeId}`);
  return {
    options: JSON.parse(row.options) as SyncOptions,
    optionsVersion: Number(row.options_version),
    headRev: Number(row.head_rev),
    purgedRev: Number(row.purged_rev),
  };
}

interface PageRow {
  head_rev: string | number;
  purged_rev: string | number;
  key: string | null;
  rev: string | number | null;
  ts_us: string | number | null;
  deleted: boolean | null;
  json: string | null;
  bytes: Uint8Array | null;
  content_type: string | null;
  /** rows the page found before its byte cut (all of them when nothing was cut) */
  found: string | number | null;
}

// The store row left-joined to the page: one row even when the page is empty, so the
// heads always come back, read in the same snapshot as the page. The page stops at $6
// bytes of values (its first row always comes): sizes are summed from octet_length,
// which reads a stored value's header only, so cut rows are never fetched.
const PAGE_SQL = `select s.head_rev, s.purged_rev, e.key, e.rev, e.ts_us, e.deleted, e.json, e.bytes, e.content_type, e.found
  from stores s
  left join lateral (
    select key, rev, ts_us, deleted, json, bytes, content_type, found from (
      select key, rev, ts_us, deleted, json, bytes, content_type,
        sum(coalesce(octet_length(json), octet_length(bytes), 0)) over w - coalesce(octet_length(json), octet_length(bytes), 0) as before,
        count(*) over () as found
      from (
        select key, rev, ts_us, deleted, json, bytes, content_type from entries
        where store_id = s.id and rev > $2::bigint and key >= $3::text and ($4::text is null or key < $4::text)
        order by rev limit $5::int
      ) limited
      window w as (order by rev rows unbounded preceding)
    ) sized
    where before < $6::bigint
    order by rev
  ) e on true
  where s.id = $1::uuid`;

/**
 * One page of the compacted change log after `afterRev` (keys under
 * `prefix`), in rev order, at most `limit` rows and `maxBytes` of values (a
 * larger first value alone), and the store's heads in the same snapshot:
 * `purgedRev` above the feed's start means tombstones it has not sent may be
 * gone. `heads` is undefined when the store no longer exists.
 */
export async function readFeedPage(
  db: Db,
  storeId: string,
  opts: { afterRev: number; prefix?: string; limit: number; maxBytes: number },
): Promise<{ heads: StoreHeads | undefined; rows: EntryRow[]; more: boolean }> {
  const from = opts.prefix ?? '';
  const until = opts.prefix ? (prefixSuccessor(opts.prefix) ?? null) : null;
  const found = await preparedDb(db).query<PageRow>(PAGE_SQL, [storeId, opts.afterRev, from, until, opts.limit, opts.maxBytes]);
  const first = found[0];
  if (!first) return { heads: undefined, rows: [], more: false };
  const heads = { headRev: Number(first.head_rev), purgedRev: Number(first.purged_rev) };
  if (first.key === null) return { heads, rows: [], more: false };
  // More may follow when the page was full or cut by its bytes.
  const more = Number(first.found) >= opts.limit || found.length < Number(first.found);
  const rows = found.map(
    (r): EntryRow => ({
      key: r.key!,
      rev: Number(r.rev),
      tsUs: Number(r.ts_us),
      deleted: r.deleted!,
      json: r.json,
      bytes: r.bytes,
      contentType: r.content_type,
    }),
  );
  return { heads, rows, more };
}
