/**
 * Conversions between wire entries and local records, and the change objects
 * handed to callbacks. One place, so a new value kind is added once.
 */
import { decodeBase64, encodeBase64 } from './base64.js';
import { ProtocolError } from './errors.js';
import type { LocalRecord } from './local-store.js';
import type { WireEntry } from '@keysync/protocol';

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
