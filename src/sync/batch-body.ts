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
/** ENTRY_SEPARATOR as an SQL literal, for entries the database joins (batch.sql.ts). */
export const ENTRY_SEPARATOR_SQL = `E'${ENTRY_SEPARATOR.replaceAll('\n', '\\n')}'`;

/**
 * batchBody of entries already in delivery order and let through, as the
 * bytes the database sent them in: joined into one buffer, never decoded
 * (test/sync/paths-agree.test.ts holds it equal to batchBody byte for byte).
 * One buffer, not parts: each part was a write of its own to the socket.
 */
export function batchBodyBytes(cursor: number, batches: number, texts: readonly Uint8Array[]): Buffer {
  const head = Buffer.from(batchHead(cursor));
  const tail = Buffer.from(batchTail(cursor, batches));
  let size = head.length + tail.length;
  for (const text of texts) size += text.length + ENTRY_SEPARATOR.length;
  const body = Buffer.allocUnsafe(size - (texts.length > 0 ? 1 : 0));
  let at = head.copy(body, 0);
  texts.forEach((text, i) => {
    at += body.write(i === 0 ? '\n' : ENTRY_SEPARATOR, at, 'latin1');
    body.set(text, at);
    at += text.length;
  });
  tail.copy(body, at);
  return body;
}

/**
 * batchBodyBytes of entries the database joined already, in pieces in
 * delivery order, each joined by ENTRY_SEPARATOR (one copy of the bytes it
 * sent, between the head and the tail).
 */
export function batchBodyJoined(cursor: number, batches: number, pieces: readonly Uint8Array[]): Buffer {
  const separator = Buffer.from(ENTRY_SEPARATOR);
  const parts: Uint8Array[] = [Buffer.from(batchHead(cursor))];
  pieces.forEach((piece, i) => parts.push(i === 0 ? separator.subarray(1) : separator, piece));
  parts.push(Buffer.from(batchTail(cursor, batches)));
  return Buffer.concat(parts);
}

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
