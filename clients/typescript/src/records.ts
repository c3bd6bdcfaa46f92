/**
 * Conversions between wire entries and local records, and the change objects
 * handed to callbacks. One place, so a new value kind is added once.
 */
import { decodeBase64, encodeBase64 } from './base64.js';
import { ProtocolError } from './errors.js';
import type { JsonRecord, LocalRecord } from './local-store.js';
import type { WireEntry } from '@keysync/protocol';
import { JsonTextEntry, parseBatchBody, parseBatchLines, type ValueParser } from './wire.js';

/** What onChange and per-key callbacks receive: one applied change. */
export interface Change {
  key: string;
  op: 'put' | 'delete';
  /** The JSON value of a JSON put; undefined for bytes and deletes. */
  value: unknown;
  /** The bytes of a bytes put. */
  bytes?: Uint8Array;
  contentType?: string;
  rev: number;
  /** Server time of the change; null for deletes learnt from a handshake. */
  ts: string | null;
}

export function fromWire(entry: WireEntry): LocalRecord {
  const { key, rev, ts } = entry;
  if ('deleted' in entry) return { kind: 'deleted', key, rev, ts };
  if ('base64' in entry) {
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(entry.base64);
    } catch {
      throw new ProtocolError(`entry "${key}" at rev ${rev} has invalid base64`);
    }
    return { kind: 'bytes', key, rev, ts, bytes, contentType: entry.contentType };
  }
  return { kind: 'json', key, rev, ts, value: entry.value };
}

/**
 * A json record whose value is parsed when it is first read, from the text
 * the server sent. An initial sync into a store that only holds or writes
 * values then builds no objects for values nobody reads (MemoryStore keeps
 * the text until a read, FileStore writes it as it is). Only a store that
 * takes such records gets them (LocalStore.lazyValues); what stores hand out
 * (`get`, changes) is plain (`plainRecord`), so no caller meets the getter.
 *
 * The text is a slice of the batch's response text, which stays in memory
 * while a slice of it does (a MemoryStore that holds values unread holds
 * about the batch bodies, no more than their objects would take). A value
 * whose text is not JSON (a faulty server or proxy) fails the read that
 * parses it, with a ProtocolError.
 */
export class LazyJsonRecord implements JsonRecord {
  readonly kind = 'json' as const;
  #text: string | undefined;
  #value: unknown;
  readonly #parse: ValueParser;

  constructor(
    readonly key: string,
    readonly rev: number,
    readonly ts: string,
    text: string,
    parse: ValueParser,
  ) {
    this.#text = text;
    this.#parse = parse;
  }

  /** The value's JSON text as the server sent it; undefined once the value has been read. */
  get text(): string | undefined {
    return this.#text;
  }

  get value(): unknown {
    const text = this.#text;
    if (text !== undefined) {
      this.#value = parseValueText(this, text, this.#parse);
      this.#text = undefined;
    }
    return this.#value;
  }
}

/** A value from its text; a text that does not parse is the server's fault (ProtocolError). */
function parseValueText(entry: { key: string; rev: number }, text: string, parse: ValueParser): unknown {
  try {
    return parse(text);
  } catch (cause) {
    throw new ProtocolError(`the value of "${entry.key}" at rev ${entry.rev} does not parse: ${text.slice(0, 100)}`, { cause });
  }
}

/** A batch as the records to apply, in delivery order. */
export interface BatchRecords {
  cursor: number;
  records: LocalRecord[];
}

/**
 * A batch's response text as records. Laid out a line per entry (wire.ts
 * parseBatchLines), each json value is parsed by `parse` when first read
 * (`lazy`: the store takes LazyJsonRecords) or here; otherwise the text is
 * parsed whole, as `api.batch` does.
 */
export function batchRecords(text: string, lazy: boolean, parseValue: ValueParser | undefined): BatchRecords {
  const lines = parseBatchLines(text);
  if (!lines) {
    const batch = parseBatchBody(text, parseValue);
    return { cursor: batch.cursor, records: batch.entries.map(fromWire) };
  }
  const records = lines.entries.map((entry): LocalRecord => {
    if (!(entry instanceof JsonTextEntry)) return fromWire(entry);
    const record = lazyRecord(entry, parseValue);
    return lazy ? record : plainRecord(record);
  });
  return { cursor: lines.cursor, records };
}

/** A json entry whose value is still its text, as a record that parses it with `parseValue` (default JSON.parse) when first read. */
export function lazyRecord(entry: JsonTextEntry, parseValue: ValueParser | undefined): LazyJsonRecord {
  return new LazyJsonRecord(entry.key, entry.rev, entry.ts, entry.text, parseValue ?? JSON.parse);
}

/** A record as a plain object (a LazyJsonRecord's value read), safe to spread, clone or keep. */
export function plainRecord(record: LocalRecord): LocalRecord {
  if (!(record instanceof LazyJsonRecord)) return record;
  return { kind: 'json', key: record.key, rev: record.rev, ts: record.ts, value: record.value };
}

/**
 * The wire (and file) form of a record. Tombstones from a handshake have no
 * ts; they are written with `ts: null`, which only local files ever contain.
 */
export type StoredEntry =
  | { key: string; rev: number; ts: string; value: unknown }
  | { key: string; rev: number; ts: string; base64: string; contentType: string }
  | { key: string; rev: number; ts: string | null; deleted: true };

export function toStored(record: LocalRecord): StoredEntry {
  const { key, rev, ts } = record;
  switch (record.kind) {
    case 'deleted':
      return { key, rev, ts, deleted: true };
    case 'bytes':
      return { key, rev, ts: record.ts, base64: encodeBase64(record.bytes), contentType: record.contentType };
    case 'json':
      return { key, rev, ts: record.ts, value: record.value };
  }
}

export function toChange(record: LocalRecord): Change {
  const { key, rev, ts } = record;
  switch (record.kind) {
    case 'deleted':
      return { key, op: 'delete', value: undefined, rev, ts };
    case 'bytes':
      return { key, op: 'put', value: undefined, bytes: record.bytes, contentType: record.contentType, rev, ts };
    case 'json':
      return { key, op: 'put', value: record.value, rev, ts };
  }
}
