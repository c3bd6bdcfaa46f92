/** Reading entries: single keys, key listings, keys by name and the change log by rev. */
import { and, asc, eq, gt, gte, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { entries, stores } from '../db/schema.js';
import { prefixSuccessor } from './prefix-range.js';
import { rowsOf } from '../db/prepared.js';
import { notFound } from '../domain-errors.js';
import { assertStoreExists } from './stores.js';
import { keyList } from './entry-sql.js';
import { formatTs } from './time.js';

export type EntryRow = Pick<typeof entries.$inferSelect, 'key' | 'rev' | 'tsUs' | 'deleted' | 'json' | 'bytes' | 'contentType'>;

const entryColumns = {
  key: entries.key,
  rev: entries.rev,
  tsUs: entries.tsUs,
  deleted: entries.deleted,
  json: entries.json,
  bytes: entries.bytes,
  contentType: entries.contentType,
};

/** `key` starts with `prefix`, written as an index range. */
export function keyHasPrefix(prefix: string | undefined): SQL | undefined {
  if (!prefix) return undefined;
  const end = prefixSuccessor(prefix);
  return end === undefined ? gte(entries.key, prefix) : and(gte(entries.key, prefix), lt(entries.key, end));
}

export async function getEntry(db: Db, storeId: string, key: string): Promise<EntryRow | undefined> {
  const [row] = await db
    .select(entryColumns)
    .from(entries)
    .where(and(eq(entries.storeId, storeId), eq(entries.key, key)));
  return row;
}

/** The key's live entry; not-found for a missing store, then for a key absent or deleted. */
export async function readLiveEntry(db: Db, storeId: string, key: string): Promise<EntryRow> {
  const row = await getEntry(db, storeId, key);
  if (row && !row.deleted) return row;
  await assertStoreExists(db, storeId);
  throw notFound(`key ${JSON.stringify(key)}`);
}

export interface KeyMeta {
  key: string;
  rev: number;
  ts: string;
  deleted?: true;
}

/** A page of key metadata in key order (tombstones included, marked deleted); not-found for a missing store. */
export async function listKeys(
  db: Db,
  storeId: string,
  opts: { prefix?: string; after?: string; limit: number },
): Promise<{ items: KeyMeta[]; next: string | null }> {
  const rows = await db
    .select({ key: entries.key, rev: entries.rev, tsUs: entries.tsUs, deleted: entries.deleted })
    .from(entries)
    .where(and(eq(entries.storeId, storeId), keyHasPrefix(opts.prefix), opts.after !== undefined ? gt(entries.key, opts.after) : undefined))
    .orderBy(asc(entries.key))
    .limit(opts.limit + 1);
  if (rows.length === 0) await assertStoreExists(db, storeId);
  const items = rows.slice(0, opts.limit).map((r) => {
    const meta: KeyMeta = { key: r.key, rev: r.rev, ts: formatTs(r.tsUs) };
    if (r.deleted) meta.deleted = true;
    return meta;
  });
  return { items, next: rows.length > opts.limit ? items[items.length - 1]!.key : null };
}

/**
 * JSON text of the live keys among `keys`, for the walk: null for a byte
 * value (present, without refs); absent and deleted keys are missing. Bytes
 * are never read, and the keys travel as one array parameter, not one
 * parameter each. At most `maxBytes` of JSON are read (a larger single value
 * is read alone): the sizes are summed in the database (`octet_length` does
 * not detoast), and the live keys left over come back in `unread`.
 */
export async function readJsonSome(
  db: Db,
  storeId: string,
  keys: string[],
  maxBytes: number,
): Promise<{ texts: Map<string, string | null>; unread: string[] }> {
  const rows = rowsOf<{ key: string; json: string | null; bytes_value: boolean; cut: boolean }>(
    await db.execute(sql`
      select key, case when cut then null else json end as json, json is null as bytes_value, cut
      from (
        select e.key, e.json,
          sum(coalesce(octet_length(e.json), 0)) over (order by e.key rows unbounded preceding) > ${maxBytes}
            and row_number() over (order by e.key) > 1 as cut
        from ${keyList(keys)} join entries e on e.store_id = ${storeId}::uuid and e.key = k.key
        where not e.deleted
      ) sized`),
  );
  const texts = new Map<string, string | null>();
  const unread: string[] = [];
  for (const row of rows) {
    if (row.cut) unread.push(row.key);
    else texts.set(row.key, row.bytes_value ? null : row.json);
  }
  return { texts, unread };
}

/**
 * One page of the change log for a live tailer, together with the store's
 * purged rev read in the same statement (one snapshot): when that rev is
 * above `afterRev`, tombstones the tailer had not read yet may be gone.
 */
export async function readTail(
  db: Db,
  storeId: string,
  afterRev: number,
  limit: number,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<{ rows: EntryRow[]; purgedRev: number; more: boolean }> {
  // At most `maxBytes` of values (the first row always comes); octet_length reads a stored
  // value's header only, so rows past the cut are never fetched.
  const size = sql`coalesce(octet_length(${entries.json}), octet_length(${entries.bytes}), 0)`;
  const found = rowsOf<{
    key: string;
    rev: string | number;
    ts_us: string | number;
    deleted: boolean;
    json: string | null;
    bytes: Uint8Array | null;
    content_type: string | null;
    found: string | number;
    purged_rev: string | number;
  }>(
    await db.execute(sql`select key, rev, ts_us, deleted, json, bytes, content_type, found,
        (select purged_rev from ${stores} where id = ${storeId}) as purged_rev
      from (
        select key, rev, ts_us, deleted, json, bytes, content_type,
          sum(size) over (order by rev rows unbounded preceding) - size as before,
          count(*) over () as found
        from (
          select ${entries.key} as key, ${entries.rev} as rev, ${entries.tsUs} as ts_us, ${entries.deleted} as deleted,
            ${entries.json} as json, ${entries.bytes} as bytes, ${entries.contentType} as content_type, ${size} as size
          from ${entries}
          where ${and(eq(entries.storeId, storeId), gt(entries.rev, afterRev))}
          order by ${entries.rev} limit ${limit}
        ) limited
      ) sized
      where before < ${maxBytes}
      order by rev`),
  );
  const rows = found.map(
    (r): EntryRow => ({ key: r.key, rev: Number(r.rev), tsUs: Number(r.ts_us), deleted: r.deleted, json: r.json, bytes: r.bytes, contentType: r.content_type }),
  );
  const total = Number(found[0]?.found ?? 0);
  return { rows, purgedRev: Number(found[0]?.purged_rev ?? 0), more: total >= limit || rows.length < total };
}

/**
 * Rows for the handshake scan: metadata only, plus the JSON text when a value
 * filter needs it. `size` is the value's length on the wire as far as the
 * database knows it without reading the value (octet_length of a TOASTed
 * column reads its header only): JSON text as is, bytes as base64.
 */
export async function scanMeta(
  db: Db,
  storeId: string,
  opts: { afterRev: number; untilRev: number; prefix?: string; limit: number; withJson: boolean },
): Promise<Array<{ key: string; rev: number; tsUs: number; deleted: boolean; json: string | null; size: number }>> {
  // A raw statement: the handshake reads every row of the store, and drizzle's
  // per-field row mapping cost more than the query (a third of a 20,000-key handshake).
  const rows = rowsOf<{ key: string; rev: string | number; ts_us: string | number; deleted: boolean; json: string | null; size: number }>(
    await db.execute(sql`select ${entries.key} as key, ${entries.rev} as rev, ${entries.tsUs} as ts_us, ${entries.deleted} as deleted,
        ${opts.withJson ? entries.json : sql`null`} as json,
        coalesce(octet_length(${entries.json}), (octet_length(${entries.bytes}) + 2) / 3 * 4, 0)::int as size
      from ${entries}
      where ${and(eq(entries.storeId, storeId), gt(entries.rev, opts.afterRev), lte(entries.rev, opts.untilRev), keyHasPrefix(opts.prefix))}
      order by ${entries.rev} limit ${opts.limit}`),
  );
  return rows.map((r) => ({ key: r.key, rev: Number(r.rev), tsUs: Number(r.ts_us), deleted: r.deleted, json: r.json, size: r.size }));
}
