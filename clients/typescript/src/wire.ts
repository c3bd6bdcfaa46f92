/**
 * Runtime checks of untrusted wire data. Types alone do not protect the local
 * store: a malformed entry from a buggy proxy or server must fail loudly
 * before it is applied, not corrupt the replica.
 */
import { ProtocolError } from './errors.js';
import type { AckResponse, BatchResponse, HandshakeResponse, WireEntry } from './types.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isRev(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function fail(what: string, v: unknown): never {
  const shown = JSON.stringify(v);
  throw new ProtocolError(`malformed ${what}: ${shown === undefined ? String(v) : shown.slice(0, 200)}`);
}

/** Validates one entry `{key, rev, ts, value | base64+contentType | deleted}`. */
export function parseWireEntry(v: unknown): WireEntry {
  if (!isObj(v) || typeof v['key'] !== 'string' || !isRev(v['rev']) || typeof v['ts'] !== 'string') {
    fail('entry', v);
  }
  if (v['deleted'] === true) return v as unknown as WireEntry;
  if (typeof v['base64'] === 'string') {
    if (typeof v['contentType'] !== 'string') fail('bytes entry', v);
    return v as unknown as WireEntry;
  }
  if (!('value' in v)) fail('entry (no value, base64 or deleted)', v);
  return v as unknown as WireEntry;
}

export function parseHandshake(v: unknown): HandshakeResponse {
  if (
    !isObj(v) ||
    typeof v['sessionId'] !== 'string' ||
    !isStringArray(v['stale']) ||
    !isStringArray(v['removed']) ||
    !isRev(v['headRev']) ||
    !isRev(v['batches']) ||
    !isRev(v['batchSize']) ||
    !(typeof v['window'] === 'number' && Number.isSafeInteger(v['window']) && v['window'] >= 1)
  ) {
    fail('handshake response', v);
  }
  return v as unknown as HandshakeResponse;
}

export function parseBatch(v: unknown): BatchResponse {
  if (!isObj(v) || !isRev(v['cursor']) || !Array.isArray(v['entries']) || !(v['next'] === null || isRev(v['next']))) {
    fail('batch response', v);
  }
  return { cursor: v['cursor'], entries: v['entries'].map(parseWireEntry), next: v['next'] };
}

export function parseAck(v: unknown): AckResponse {
  if (!isObj(v) || typeof v['done'] !== 'boolean') fail('ack response', v);
  return v as unknown as AckResponse;
}

/** Parses the JSON `data:` of an SSE event. */
export function parseEventData(event: string, data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    throw new ProtocolError(`event "${event}" has invalid JSON data: ${data.slice(0, 200)}`);
  }
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}
