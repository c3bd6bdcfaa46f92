/**
 * The wire form of an entry (entry-json.ts) built by the database: a batch
 * of a thousand 1 KiB values then costs the server one string per batch
 * instead of seven columns per row parsed, formatted and concatenated in
 * JavaScript. The text is byte for byte what `entryJson` gives (a test
 * holds the two together: live events and batches must agree):
 * - `to_json(text)` escapes as JSON.stringify does (", \, \b \f \n \r \t, other
 *   control characters as \u00xx);
 * - `ts` is ISO-8601 UTC with six decimals, from integer microseconds
 *   (timestamp without time zone, so the session's TimeZone plays no part);
 * - bytes are base64 without the line breaks PostgreSQL's encoder inserts.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { rowsOf } from '../db/prepared.js';

/** The entry text of the `entries` row aliased `e`, as SQL text (for raw prepared statements). */
export const ENTRY_TEXT_SQL = `('{"key":' || to_json(e.key)::text || ',"rev":' || e.rev
  || ',"ts":"' || to_char(timestamp '1970-01-01' + e.ts_us * interval '1 microsecond', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'
  || case
       when e.deleted then ',"kind":"tombstone","deleted":true}'
       when e.json is not null then ',"kind":"json","value":' || e.json || '}'
       else ',"kind":"bytes","base64":"' || translate(encode(coalesce(e.bytes, ''::bytea), 'base64'), E'\\n', '')
         || '","contentType":' || to_json(coalesce(e.content_type, 'application/octet-stream'))::text || '}'
     end)`;

/** The same as a drizzle fragment. */
export const ENTRY_TEXT: SQL = sql.raw(ENTRY_TEXT_SQL);

/**
 * The size a batch counts for the `entries` row aliased `e` (BatchCuts, the
 * byte budget): its JSON text's bytes, its bytes' base64 length, 0 for a
 * tombstone. `entrySize` is the same measure of a value being written.
 */
export const ENTRY_SIZE_SQL = '(coalesce(octet_length(e.json), (octet_length(e.bytes) + 2) / 3 * 4, 0)::int)';

/** ENTRY_SIZE_SQL of a value being written (stores.max_entry_bytes). */
export function entrySize(value: string | Uint8Array): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : Math.ceil(value.byteLength / 3) * 4;
}

/** An entry as batch text: `deleted` and `key` for the policy, `text` for the wire. */
export interface EntryText {
  key: string;
  deleted: boolean;
  text: string;
}

/**
 * `keys` as a relation `k(key)`, each key once, for a join that probes the
 * entries' primary key once per key. Not `key = any($keys)`: on a store not
 * yet analyzed after a load, the planner took that for a filter over every
 * entry of the store (31 ms for 1,000 keys of 100,000 entries, against 2 ms
 * probed).
 */
export const keyList = (keys: string[]): SQL => sql`(select distinct u.key from unnest(${sql.param(keys)}::text[]) as u(key)) k`;

/** The entry text of each present key among `keys` (absent keys are missing from the map). */
export async function readEntryTexts(db: Db, storeId: string, keys: string[]): Promise<Map<string, EntryText>> {
  const rows = rowsOf<EntryText>(
    await db.execute(sql`select e.key, e.deleted, ${ENTRY_TEXT} as text
      from ${keyList(keys)} join entries e on e.store_id = ${storeId}::uuid and e.key = k.key`),
  );
  return new Map(rows.map((r) => [r.key, r]));
}
