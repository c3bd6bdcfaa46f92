/**
 * How FileStore lays a record out in its database: a small meta entry (rev,
 * ts, kind, content type) in one table and the value's bytes in another. The
 * sync loop's reads (the rev guard of every batch, the `have` map) touch only
 * meta entries, so values are written once and read only by `get`.
 *
 *   meta:   key → [rev, ts | null, kind, contentType?]   (msgpack, by lmdb)
 *   values: key → JSON text (UTF-8) | raw bytes          (absent for tombstones)
 *
 * JSON values are handed over as text and bytes as bytes; the database writes
 * either straight into its pages (one copy), and `kind` says how to read back.
 * A value from the server (LazyJsonRecord) is written as the text it sent,
 * unparsed: exact, whatever the client's parser would make of it.
 */
import type { LocalRecord } from '../local-store.js';
import { LazyJsonRecord } from '../records.js';
import type { ValueParser } from '../wire.js';

/** The `kind` slot of a meta entry. */
const KIND = { json: 0, bytes: 1, deleted: 2 } as const;

export type Meta = [rev: number, ts: string | null, kind: number, contentType?: string];

/** What the rev guard and the `have` map need of a record, without its value. */
export interface RecordHead {
  key: string;
  rev: number;
  ts: string | null;
  kind: LocalRecord['kind'];
}

export function encodeMeta(record: LocalRecord): Meta {
  if (record.kind === 'bytes') return [record.rev, record.ts, KIND.bytes, record.contentType];
  return [record.rev, record.ts, KIND[record.kind]];
}

/** What to store as the value: JSON text, bytes, or undefined for a tombstone. Throws if the value is not JSON. */
export function encodeValue(record: LocalRecord): string | Uint8Array | undefined {
  switch (record.kind) {
    case 'deleted':
      return undefined;
    case 'bytes':
      return record.bytes;
    case 'json': {
      if (record instanceof LazyJsonRecord && record.text !== undefined) return record.text;
      const text = JSON.stringify(record.value);
      if (text === undefined) throw new TypeError(`FileStore: the value of "${record.key}" is not JSON`);
      return text;
    }
  }
}

export function decodeHead(key: string, meta: unknown): RecordHead {
  if (!Array.isArray(meta) || typeof meta[0] !== 'number' || (meta[1] !== null && typeof meta[1] !== 'string')) {
    throw new Error(`FileStore: damaged meta entry for "${key}"`);
  }
  const kind = meta[2] === KIND.json ? 'json' : meta[2] === KIND.bytes ? 'bytes' : meta[2] === KIND.deleted ? 'deleted' : undefined;
  if (kind === undefined || (kind !== 'deleted' && meta[1] === null)) throw new Error(`FileStore: damaged meta entry for "${key}"`);
  return { key, rev: meta[0], ts: meta[1] as string | null, kind };
}

/**
 * The full record from its meta entry and its stored value (bytes are
 * copied: the database may reuse its buffer); `parse` reads a JSON value's text.
 */
export function decodeRecord(key: string, meta: unknown, value: string | Uint8Array | undefined, parse: ValueParser = JSON.parse): LocalRecord {
  const head = decodeHead(key, meta);
  if (head.kind === 'deleted') return { kind: 'deleted', key, rev: head.rev, ts: head.ts };
  if (value === undefined) throw new Error(`FileStore: the value of "${key}" is missing`);
  const ts = head.ts as string;
  if (head.kind === 'bytes') {
    const contentType = (meta as Meta)[3];
    if (typeof contentType !== 'string' || typeof value === 'string') throw new Error(`FileStore: damaged meta entry for "${key}"`);
    return { kind: 'bytes', key, rev: head.rev, ts, bytes: new Uint8Array(value), contentType };
  }
  if (typeof value !== 'string') throw new Error(`FileStore: damaged value of "${key}"`);
  return { kind: 'json', key, rev: head.rev, ts, value: parse(value) };
}
