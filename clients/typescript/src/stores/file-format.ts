/**
 * On-disk format of FileStore. Records use the wire shapes (readable with
 * `jq`, and the same code path as the network); tombstones from a
 * handshake may carry `ts: null`.
 *
 *   snapshot.json     {"format":1,"gen":G,"checkpoint":N|null,"records":[...]}
 *   log-<G>.jsonl     one line per committed applyBatch/remove:
 *                     {"records":[...],"checkpoint":N?}\n
 *
 * The log of generation G holds exactly what happened after snapshot G, so
 * replay never applies a line twice. A line counts only with its newline:
 * a torn tail (crash mid-write) is cut off on open.
 */
import type { LocalRecord } from '../local-store.js';
import { decodeBase64 } from '../base64.js';
import { toStored } from '../records.js';

export const FORMAT = 1;
export const SNAPSHOT = 'snapshot.json';
export const SNAPSHOT_TMP = 'snapshot.json.tmp';
export const logName = (gen: number): string => `log-${gen}.jsonl`;
export const LOG_PATTERN = /^log-(\d+)\.jsonl$/;

export interface Snapshot {
  gen: number;
  checkpoint: number | undefined;
  records: LocalRecord[];
}

export interface LogLine {
  records: LocalRecord[];
  checkpoint: number | undefined;
}

export function encodeSnapshot(s: Snapshot): string {
  return JSON.stringify({
    format: FORMAT,
    gen: s.gen,
    checkpoint: s.checkpoint ?? null,
    records: s.records.map(toStored),
  });
}

export function decodeSnapshot(text: string): Snapshot {
  const v: unknown = JSON.parse(text);
  if (!isObj(v) || v['format'] !== FORMAT || !isInt(v['gen']) || !Array.isArray(v['records'])) {
    throw new Error('FileStore: snapshot.json is not a format-1 snapshot');
  }
  return { gen: v['gen'], checkpoint: optionalInt(v['checkpoint']), records: v['records'].map(decodeRecord) };
}

export function encodeLogLine(line: LogLine): string {
  const out: Record<string, unknown> = { records: line.records.map(toStored) };
  if (line.checkpoint !== undefined) out['checkpoint'] = line.checkpoint;
  return `${JSON.stringify(out)}\n`;
}

/**
 * Splits a log into the lines that committed and the byte length they span;
 * everything from the first incomplete or unreadable line on is torn.
 */
export function decodeLog(bytes: Uint8Array): { lines: LogLine[]; validBytes: number } {
  const lines: LogLine[] = [];
  const text = new TextDecoder('utf-8', { fatal: false });
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    if (end === -1) break;
    let line: LogLine;
    try {
      const v: unknown = JSON.parse(text.decode(bytes.subarray(start, end)));
      if (!isObj(v) || !Array.isArray(v['records'])) break;
      line = { records: v['records'].map(decodeRecord), checkpoint: optionalInt(v['checkpoint']) };
    } catch {
      break;
    }
    lines.push(line);
    start = end + 1;
  }
  return { lines, validBytes: start };
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
