/**
 * The response text of a batch, shared by the fast path (batch.sql.ts) and
 * the locked full path so both answer byte for byte the same.
 *
 * Each entry begins a line of its own (docs/API.md, "Batches"): entry text
 * never holds a raw line feed (JSON escapes one in a string, and values are
 * stored without whitespace), so a client can cut a batch into entries at
 * its line feeds and read each entry's head on its own; the TS client keeps
 * each value's text and parses it when the value is first read.
 */
import type { StorePolicy } from '../options/index.js';
import type { EntryText } from '../store/entry-sql.js';

/** What comes before a batch's entries (each after a line feed, joined by commas)... */
export const batchHead = (cursor: number) => `{"cursor":${cursor},"entries":[`;

/** ...and what comes after them. */
export const batchTail = (cursor: number, batches: number) => `\n],"next":${cursor + 1 < batches ? cursor + 1 : null}}`;

/** Between a batch's entries, and before the first: each begins a line. */
const ENTRY_SEPARATOR = ',\n';

/**
 * The same as an SQL expression: the part of the body between head and
 * tail, from the entry text `text` of the rows `from` (FROM and WHERE) in
 * the order `order`. The fast path (batch.sql.ts) has the database join it
 * and sends its bytes as the driver received them, between head and tail
 * (test/sync/paths-agree.test.ts holds the two paths equal byte for byte).
 */
export const entriesSql = (text: string, order: string, from: string) =>
  `coalesce((select E'\\n' || string_agg(${text}, E',\\n' order by ${order}) from ${from}), '')`;

/**
 * `rows` are the batch's keys in delivery order, undefined for a key purged
 * since the handshake (skipped: the feed or a new handshake covers it). With
 * a policy, the store's current options apply again: a key the filter no
 * longer includes is left out, and so is a put a value filter rejects now.
 */
export function batchBody(cursor: number, batches: number, rows: Iterable<EntryText | undefined>, policy?: StorePolicy): string {
  const parts: string[] = [];
  for (const row of rows) {
    if (!row) continue;
    if (policy && !policy.includesKey(row.key)) continue;
    // A library value filter (rare) sees the value parsed back from the text; undefined for bytes.
    if (policy?.includesValue && !row.deleted && !policy.includesValue(row.key, (JSON.parse(row.text) as { value?: unknown }).value)) continue;
    parts.push(row.text);
  }
  return batchHead(cursor) + (parts.length > 0 ? `\n${parts.join(ENTRY_SEPARATOR)}` : '') + batchTail(cursor, batches);
}
