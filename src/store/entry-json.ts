/**
 * Wire form of an entry, built as text: a JSON value is stored as its text
 * and spliced in verbatim, so batches and live events never parse and
 * re-serialise values. The same string serves every subscriber of a write.
 * `kind` (json | bytes | tombstone) is the discriminator generated clients
 * dispatch on; the payload field (`value`, `base64`, `deleted`) says the same.
 */
import type { EntryRow } from './reads.js';
import { formatTs } from './time.js';

export function entryJson(row: EntryRow): string {
  const head = `{"key":${JSON.stringify(row.key)},"rev":${row.rev},"ts":"${formatTs(row.tsUs)}"`;
  if (row.deleted) return `${head},"kind":"tombstone","deleted":true}`;
  if (row.json !== null) return `${head},"kind":"json","value":${row.json}}`;
  const base64 = Buffer.from(row.bytes ?? new Uint8Array()).toString('base64');
  return `${head},"kind":"bytes","base64":"${base64}","contentType":${JSON.stringify(row.contentType ?? 'application/octet-stream')}}`;
}
