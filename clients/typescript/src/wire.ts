/**
 * Runtime checks of untrusted wire data. Types alone do not protect the local
 * store: a malformed entry from a buggy proxy or server must fail loudly
 * before it is applied, not corrupt the replica.
 */
import { ProtocolError } from './errors.js';
import {
  EVENTS,
  JsonTextError,
  scanJson,
  spanText,
  withPlaceholders,
  type AckResponse,
  type BatchResponse,
  type BytesEntry,
  type HandshakeResponse,
  type JsonEntry,
  type JsonSpan,
  type ReadyEventData,
  type TombstoneEntry,
  type WireEntry,
} from '@keysync/protocol';

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

/**
 * Turns the text of a JSON value as the server stores it (exactly as it was
 * written, less whitespace) into what the application holds. The default is
 * JSON.parse; a lossless parser keeps int64 values and long decimals exact.
 */
export type ValueParser = (text: string) => unknown;

/**
 * A batch from its response text, each JSON value handed to `parseValue` as
 * its own text. One linear scan finds the values; the rest of the batch is
 * parsed with the values left out.
 */
export function parseBatchText(text: string, parseValue: ValueParser): BatchResponse {
  const spans = valueSpans(text, ['entries', '*', 'value'], 'batch response');
  const batch = parseBatch(JSON.parse(withPlaceholders(text, spans)));
  for (const entry of batch.entries) if ('value' in entry) entry.value = parseValue(valueText(text, spans, entry.value));
  return batch;
}

function valueSpans(text: string, path: string[], what: string): JsonSpan[] {
  try {
    return scanJson(text, { capture: path });
  } catch (err) {
    if (err instanceof JsonTextError) throw new ProtocolError(`${what} is not JSON: ${err.message}`);
    throw err;
  }
}

/** The text of the value whose placeholder (its index among the spans) is `placeholder`. */
function valueText(text: string, spans: JsonSpan[], placeholder: unknown): string {
  const span = typeof placeholder === 'number' ? spans[placeholder] : undefined;
  if (!span) throw new ProtocolError('malformed entry: a value out of place');
  return spanText(text, span);
}

export function parseAck(v: unknown): AckResponse {
  if (!isObj(v) || typeof v['done'] !== 'boolean') fail('ack response', v);
  return v as unknown as AckResponse;
}

/** A live-feed event after parsing; `id` is the SSE id (the rev) when present. */
export type LiveEvent =
  | { type: 'put'; id: string | undefined; entry: JsonEntry | BytesEntry }
  | { type: 'delete'; id: string | undefined; entry: TombstoneEntry }
  | { type: 'ready'; id: string | undefined; data: ReadyEventData }
  | { type: 'reset'; id: string | undefined }
  | { type: 'store-deleted'; id: string | undefined }
  | { type: 'revoked'; id: string | undefined };

/**
 * A live-feed event from its SSE name, data and id; undefined for event names
 * we do not know, which are ignored so the server can add some later.
 */
export function parseLiveEvent(event: string, data: string, id: string | undefined, parseValue?: ValueParser): LiveEvent | undefined {
  switch (event) {
    case EVENTS.put:
    case EVENTS.delete: {
      const entry = parseValue ? parseEntryText(event, data, parseValue) : parseWireEntry(parseJson(event, data));
      if ('deleted' in entry) {
        if (event === EVENTS.delete) return { type: 'delete', id, entry };
      } else if (event === EVENTS.put) {
        return { type: 'put', id, entry };
      }
      throw new ProtocolError(`event "${event}" carries ${'deleted' in entry ? 'a tombstone' : 'a value'}`);
    }
    case EVENTS.ready: {
      const v = parseJson(event, data);
      if (!isObj(v) || !isRev(v['headRev'])) fail('ready event', v);
      const beat = v['heartbeatMs'];
      // An unusable interval is ignored rather than fatal: it only tunes dead-connection detection.
      const heartbeatMs = typeof beat === 'number' && Number.isSafeInteger(beat) && beat > 0 ? beat : undefined;
      return { type: 'ready', id, data: heartbeatMs === undefined ? { headRev: v['headRev'] } : { headRev: v['headRev'], heartbeatMs } };
    }
    // The data of these is not needed; it is there only so the event dispatches.
    case EVENTS.reset:
      return { type: 'reset', id };
    case EVENTS.storeDeleted:
      return { type: 'store-deleted', id };
    case EVENTS.revoked:
      return { type: 'revoked', id };
    default:
      return undefined;
  }
}

/** An event's entry with its JSON value handed to `parseValue` as text. */
function parseEntryText(event: string, data: string, parseValue: ValueParser): WireEntry {
  const spans = valueSpans(data, ['value'], `event "${event}" data`);
  const entry = parseWireEntry(parseJson(event, withPlaceholders(data, spans)));
  if ('value' in entry) entry.value = parseValue(valueText(data, spans, entry.value));
  return entry;
}

function parseJson(event: string, data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    throw new ProtocolError(`event "${event}" has invalid JSON data: ${data.slice(0, 200)}`);
  }
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}
