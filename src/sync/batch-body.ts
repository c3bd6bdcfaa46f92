/**
 * The response text of a batch, shared by the single-statement fast path and
 * the locked full path so both answer byte for byte the same.
 */
import type { StorePolicy } from '../options/index.js';
import { entryJson } from '../store/entry-json.js';
import type { EntryRow } from '../store/reads.js';

/**
 * `rows` are the batch's keys in delivery order, undefined for a key purged
 * since the handshake (skipped: the feed or a new handshake covers it). With
 * a policy, the store's current options apply again: a key the filter no
 * longer includes is left out, and so is a put a value filter rejects now.
 */
export function batchBody(cursor: number, batches: number, rows: Iterable<EntryRow | undefined>, policy?: StorePolicy): string {
  const parts: string[] = [];
  for (const row of rows) {
    if (!row) continue;
    if (policy && !policy.includesKey(row.key)) continue;
    if (policy?.includesValue && !row.deleted && !policy.includesValue(row.key, row.json === null ? undefined : JSON.parse(row.json))) continue;
    parts.push(entryJson(row));
  }
  const next = cursor + 1 < batches ? cursor + 1 : null;
  return `{"cursor":${cursor},"entries":[${parts.join(',')}],"next":${next}}`;
}
