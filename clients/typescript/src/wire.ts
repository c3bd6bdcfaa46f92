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

/** A handshake response's members before its inline batch (splitHandshakeText cuts that off first). */
function parseHandshake(v: unknown): Omit<HandshakeResponse, 'batch'> {
  if (
    !isObj(v) ||
    typeof v['sessionId'] !== 'string' ||
    !(v['stale'] === undefined || isStringArray(v['stale'])) ||
    !isStringArray(v['removed']) ||
    !isRev(v['headRev']) ||
    !isRev(v['batches']) ||
    !isRev(v['batchSize']) ||
    !(typeof v['window'] === 'number' && Number.isSafeInteger(v['window']) && v['window'] >= 1)
  ) {
    fail('handshake response', v);
  }
  return v as unknown as Omit<HandshakeResponse, 'batch'>;
}

/** A handshake response, its inline batch (if any) left as its text. */
export interface HandshakeText {
  handshake: Omit<HandshakeResponse, 'batch'>;
  /** the `batch` member's text, laid out as a fetched batch (parseBatchLines reads it) */
  batchText: string | undefined;
}

/** What begins an inline batch, the response's last member (docs/API.md, "Inline batch"). */
const BATCH_MEMBER = ',"batch":';

/**
 * A handshake response's text, cut before its `batch` member, which the
 * server writes last. Every string before it (the stale and removed keys)
 * escapes its quotes, so the first `,"batch":` of the text is that member:
 * the rest of the response is parsed without reading the batch's values.
 */
export function splitHandshakeText(text: string): HandshakeText {
  const at = text.indexOf(BATCH_MEMBER);
  const end = text.trimEnd().length - 1;
  if (at >= 0 && text.charCodeAt(end) !== CLOSE_BRACE) fail('handshake response', text.slice(-200));
  let head: unknown;
  try {
    head = JSON.parse(at < 0 ? text : `${text.slice(0, at)}}`);
  } catch {
    throw new ProtocolError(`handshake response is not JSON: ${text.slice(0, 200)}`);
  }
  // A batch elsewhere would be read as a plain handshake, whose batch 0 is released.
  if (at < 0 && isObj(head) && 'batch' in head) fail('handshake response (its batch is not its last member)', text.slice(0, 200));
  return { handshake: parseHandshake(head), batchText: at < 0 ? undefined : text.slice(at + BATCH_MEMBER.length, end) };
}

export function parseBatch(v: unknown): BatchResponse {
  if (!isObj(v) || !isRev(v['cursor']) || !Array.isArray(v['entries']) || !(v['next'] === null || isRev(v['next']))) {
    fail('batch response', v);
  }
  return { cursor: v['cursor'], entries: v['entries'].map(parseWireEntry), next: v['next'] };
}

/** A batch from its whole response text: one JSON.parse, or with `parseValue` each value handed over as text (parseBatchText). */
export function parseBatchBody(text: string, parseValue?: ValueParser): BatchResponse {
  if (parseValue) return parseBatchText(text, parseValue);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProtocolError(`batch response is not JSON: ${text.slice(0, 200)}`);
  }
  return parseBatch(v);
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

/** A json entry whose value is still its JSON text, as the server sent it (parseBatchLines). */
export class JsonTextEntry {
  constructor(
    readonly key: string,
    readonly rev: number,
    readonly ts: string,
    readonly text: string,
  ) {}
}

/** A batch with each json entry's value left as text. */
export interface TextBatch {
  cursor: number;
  next: number | null;
  entries: Array<WireEntry | JsonTextEntry>;
}

/** What ends a json entry's head and begins its value, the entry's last member (docs/API.md, "Batches"). */
const VALUE_MEMBER = ',"kind":"json","value":';
const ENTRY_START = '{"key":';
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;

/**
 * A batch cut at its line feeds, as the server lays it out (docs/API.md,
 * "Batches"): the envelope's head and tail on lines of their own, each entry
 * on a line, a json entry's value its last member. Each entry's head is
 * parsed and checked on its own; a json entry's value stays text (no JSON
 * escapes a raw quote inside a string, so the first `,"kind":"json","value":`
 * of a line is that member). Undefined when the text is laid out otherwise,
 * or a line does not parse: the caller reads it whole, which decides.
 */
export function parseBatchLines(text: string): TextBatch | undefined {
  const first = text.indexOf('\n');
  const last = text.lastIndexOf('\n');
  if (first < 0 || !text.startsWith('"entries":[', first - 11) || !text.startsWith('],"next":', last + 1)) return undefined;
  return unlessMalformed(() => {
    const envelope = parseBatch(JSON.parse(text.slice(0, first) + text.slice(last + 1)));
    const entries: Array<WireEntry | JsonTextEntry> = [];
    for (let at = first + 1; at < last; ) {
      const lineEnd = text.indexOf('\n', at);
      // Entries are separated by commas; the last one's line has none.
      const end = lineEnd < last ? lineEnd - 1 : lineEnd;
      if (lineEnd < last && text.charCodeAt(end) !== 0x2c) return undefined;
      const entry = parseEntryLine(text, at, end);
      if (!entry) return undefined;
      entries.push(entry);
      at = lineEnd + 1;
    }
    return { cursor: envelope.cursor, next: envelope.next, entries };
  });
}

/** A live event's entry (its data, one entry) as a json entry with its value as text; undefined for any other entry or layout. */
export function readJsonTextEntry(data: string): JsonTextEntry | undefined {
  return unlessMalformed(() => {
    const entry = parseEntryLine(data, 0, data.length);
    return entry instanceof JsonTextEntry ? entry : undefined;
  });
}

/** `read()`, or undefined when what it reads does not parse or check: the caller then reads the text the usual way, which decides. */
function unlessMalformed<T>(read: () => T | undefined): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof ProtocolError) return undefined;
    throw err;
  }
}

/** The entry in text[start, end), its value left as text if it is a json entry; undefined if it is not laid out as the server writes it. */
function parseEntryLine(text: string, start: number, end: number): WireEntry | JsonTextEntry | undefined {
  if (!text.startsWith(ENTRY_START, start) || text.charCodeAt(end - 1) !== CLOSE_BRACE) return undefined;
  const member = text.indexOf(VALUE_MEMBER, start);
  if (member < 0 || member >= end) return parseWireEntry(JSON.parse(text.slice(start, end)));
  const valueStart = member + VALUE_MEMBER.length;
  if (valueStart >= end - 1) return undefined;
  const value = text.slice(valueStart, end - 1);
  const plain = plainHead(text, start, member, value);
  if (plain) return plain;
  const head: unknown = JSON.parse(`${text.slice(start, member)}}`);
  if (!isObj(head) || typeof head['key'] !== 'string' || !isRev(head['rev']) || typeof head['ts'] !== 'string') fail('entry', head);
  return new JsonTextEntry(head['key'], head['rev'], head['ts'], value);
}

/** A JSON string's contents that need no unescaping: no quote, backslash or control character. */
const PLAIN_STRING = /^[^"\\\u0000-\u001f]*$/;
const KEY_OPEN = '{"key":"';
const REV_MEMBER = '","rev":';
const TS_MEMBER = ',"ts":"';

/**
 * The head `{"key":"…","rev":n,"ts":"…"` of text[start, member) read by
 * hand, as the server writes it when its key and ts hold nothing to
 * unescape (about half the cost of JSON.parse and the checks, a few
 * percent of a sync's CPU); undefined for anything else, which JSON.parse
 * then reads. What it accepts JSON.parse reads the same.
 */
function plainHead(text: string, start: number, member: number, value: string): JsonTextEntry | undefined {
  if (!text.startsWith(KEY_OPEN, start)) return undefined;
  const keyStart = start + KEY_OPEN.length;
  const keyEnd = text.indexOf(REV_MEMBER, keyStart);
  if (keyEnd < 0 || keyEnd >= member) return undefined;
  // A rev is digits without a leading zero (JSON), up to the largest safe integer.
  const revStart = keyEnd + REV_MEMBER.length;
  let rev = 0;
  let at = revStart;
  for (let digit = text.charCodeAt(at) - 48; digit >= 0 && digit <= 9; digit = text.charCodeAt(++at) - 48) rev = rev * 10 + digit;
  if (at === revStart || at - revStart > 16 || (at - revStart > 1 && text.charCodeAt(revStart) === 48) || !Number.isSafeInteger(rev)) return undefined;
  if (!text.startsWith(TS_MEMBER, at) || text.charCodeAt(member - 1) !== QUOTE) return undefined;
  const key = text.slice(keyStart, keyEnd);
  const ts = text.slice(at + TS_MEMBER.length, member - 1);
  return PLAIN_STRING.test(key) && PLAIN_STRING.test(ts) ? new JsonTextEntry(key, rev, ts, value) : undefined;
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
