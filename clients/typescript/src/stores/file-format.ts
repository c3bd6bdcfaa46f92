/**
 * FileStore's format 1, read only to migrate it: before the store kept its
 * records in LMDB it wrote
 *
 *   snapshot.json     {"format":1,"gen":G,"checkpoint":N|null,"records":[...]}
 *   log-<G>.jsonl     one line per committed applyBatch/remove:
 *                     {"records":[...],"checkpoint":N?}\n
 *
 * with records in their wire shapes (tombstones from a handshake may carry
 * `ts: null`). The log of generation G holds exactly what happened after
 * snapshot G; a line counts only with its newline (a torn tail is a batch
 * that never committed); logs of other generations and `snapshot.json.tmp`
 * are leftovers of an interrupted compaction and are ignored.
 */
import type { LocalRecord } from '../local-store.js';
import { decodeBase64 } from '../base64.js';

export const LEGACY_SNAPSHOT = 'snapshot.json';
export const LEGACY_FILE = /^(snapshot\.json(\.tmp)?|log-\d+\.jsonl)$/;
export const legacyLogName = (gen: number): string => `log-${gen}.jsonl`;

export interface LegacyState {
  gen: number;
  checkpoint: number | undefined;
  /** The replica's records, the last version of each key. */
  records: Map<string, LocalRecord>;
}

/** The snapshot's generation, checkpoint and records (an empty generation 0 without a snapshot). */
export function decodeSnapshot(text: string | undefined): LegacyState {
  if (text === undefined) return { gen: 0, checkpoint: undefined, records: new Map() };
  const v: unknown = JSON.parse(text);
  if (!isObj(v) || v['format'] !== 1 || !isInt(v['gen']) || !Array.isArray(v['records'])) {
    throw new Error('FileStore: snapshot.json is not a format-1 snapshot');
  }
  const records = new Map<string, LocalRecord>();
  for (const r of v['records'].map(decodeRecord)) records.set(r.key, r);
  return { gen: v['gen'], checkpoint: optionalInt(v['checkpoint']), records };
}

/**
 * Replays the committed lines of the snapshot's log onto `state`; everything
 * from the first incomplete or unreadable line on is torn and left out.
 */
export function replayLog(state: LegacyState, bytes: Uint8Array | undefined): LegacyState {
  if (bytes === undefined) return state;
  const text = new TextDecoder('utf-8', { fatal: false });
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    if (end === -1) break;
    let records: LocalRecord[];
    let checkpoint: number | undefined;
    try {
      const v: unknown = JSON.parse(text.decode(bytes.subarray(start, end)));
      if (!isObj(v) || !Array.isArray(v['records'])) break;
      records = v['records'].map(decodeRecord);
      checkpoint = optionalInt(v['checkpoint']);
    } catch {
      break;
    }
    for (const r of records) state.records.set(r.key, r);
    if (checkpoint !== undefined) state.checkpoint = checkpoint;
    start = end + 1;
  }
  return state;
}

function decodeRecord(v: unknown): LocalRecord {
  if (!isObj(v) || typeof v['key'] !== 'string' || !isInt(v['rev'])) throw new Error('FileStore: bad record');
  const { key, rev } = v;
  const ts = v['ts'];
  if (v['deleted'] === true) {
    if (ts !== null && typeof ts !== 'string') throw new Error('FileStore: bad tombstone');
    return { kind: 'deleted', key, rev, ts };
  }
  if (typeof ts !== 'string') throw new Error('FileStore: bad record ts');
  if (typeof v['base64'] === 'string' && typeof v['contentType'] === 'string') {
    return { kind: 'bytes', key, rev, ts, bytes: decodeBase64(v['base64']), contentType: v['contentType'] };
  }
  if (!('value' in v)) throw new Error('FileStore: record without value');
  return { kind: 'json', key, rev, ts, value: v['value'] };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function optionalInt(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isInt(v)) throw new Error('FileStore: bad checkpoint');
  return v;
}
