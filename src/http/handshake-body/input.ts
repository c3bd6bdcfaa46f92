/**
 * A handshake body read from its bytes to what the handshake needs: the
 * JSON check every body gets (json-check.ts), the route's schema, and the
 * `have` map's timestamps as micros (have-ts.ts). A map that is all well is
 * read off the body's text (have-text.ts); any other body is parsed whole,
 * which gives the answer the API gives for it. Pure and self-contained,
 * so a large body can be read on a worker thread (reader.ts); a
 * refusal is the same ProblemError the route gives on the event loop.
 *
 * The `have` map comes out sorted (have-list.ts), which costs the worker,
 * not the event loop, and crosses threads cheaply: the keys as one string
 * with their end offsets and the micros as a Float64Array, copied flat or
 * transferred.
 */
import { MAX_KEY_BYTES, withPlaceholders, type JsonSpan } from '@keysync/protocol';
import { buildHaveList, type HaveListData } from '../../sync/have-list.js';
import { checkJsonBody } from '../json-check.js';
import { ProblemError, type FieldError, type ProblemKind } from '../problem.js';
import { issuesProblem } from '../validation-issues.js';
import { MAX_BATCH_SIZE_FIELD, MAX_TS_LENGTH } from './fields.js';
import { readHaveText } from './have-text.js';
import { forEachHaveTs } from './have-ts.js';

export interface HandshakeInputOptions {
  /** KEYSYNC_MAX_JSON_DEPTH (the body's envelope adds one level) */
  maxJsonDepth: number;
  /** KEYSYNC_MAX_HAVE_KEYS */
  maxHaveKeys: number;
}

/** A ProblemError as plain data (it crosses a thread). */
export interface ProblemData {
  status: number;
  kind: ProblemKind;
  title: string;
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
}

export type HandshakeInput =
  /** `body`: the validated body as JSON text, with `"have":{}` in place of the map, which is in `have` */
  { ok: true; body: string; have?: HaveListData } | { ok: false; problem: ProblemData };

/** Reads a handshake body: its `have` entries under the prefix, sorted. */
export async function readHandshakeInput(bytes: Uint8Array, o: HandshakeInputOptions): Promise<HandshakeInput> {
  try {
    const { text, spans } = checkJsonBody(bytes, { maxDepth: o.maxJsonDepth + 1, limit: o.maxJsonDepth, capture: ['have'], uniqueKeys: false });
    return readPlain(text, spans, o) ?? (await readParsed(text, o));
  } catch (err) {
    if (!(err instanceof ProblemError)) throw err;
    const { status, kind, title, detail, errors, headers } = err;
    return { ok: false, problem: { status, kind, title, detail, errors, headers } };
  }
}

const OPEN_BRACE = 123;

/**
 * The fields a plain body may have (readPlain): every field of a `have`
 * handshake (test/http/handshake-input.test.ts holds this to the route's
 * schema). A field missing here sends every body that carries it down the
 * slow path: the TS client's `inline` did, and a reconnect by digests of
 * 100,000 keys then spent 150 ms loading the route's modules on the worker.
 */
export const PLAIN_FIELDS: ReadonlySet<string> = new Set(['have', 'prefix', 'batchSize', 'listStale', 'inline', 'digest']);

/**
 * A plain `have` body, read without the route's schema: one `have` member,
 * an object whose members are all well (have-text.ts), and at most the
 * fields `prefix`, `batchSize`, `listStale`, `inline` (each well within the
 * schema) and `digest`;
 * undefined for any other body. (The route's validator checks the envelope
 * again.)
 */
function readPlain(text: string, spans: JsonSpan[], o: HandshakeInputOptions): HandshakeInput | undefined {
  // JSON.parse would keep the last of two `have` members.
  if (spans.length !== 1 || text.charCodeAt(spans[0]!.start) !== OPEN_BRACE) return undefined;
  const envelope = JSON.parse(withPlaceholders(text, spans)) as Record<string, unknown>;
  for (const field in envelope) if (!PLAIN_FIELDS.has(field)) return undefined;
  const { prefix, batchSize, listStale, inline } = envelope;
  if ((listStale !== undefined && typeof listStale !== 'boolean') || (inline !== undefined && typeof inline !== 'boolean')) return undefined;
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length > MAX_KEY_BYTES)) return undefined;
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && (batchSize as number) >= 1 && (batchSize as number) <= MAX_BATCH_SIZE_FIELD)) {
    return undefined;
  }
  const read = readHaveText(text, spans[0]!.start, prefix, o.maxHaveKeys, MAX_TS_LENGTH);
  const have = read && buildHaveList(read.keys, read.micros);
  return have ? { ok: true, body: JSON.stringify({ ...envelope, have: {} }), have } : undefined;
}

/**
 * The body parsed whole, then the route's schema and the map's timestamps:
 * every refusal the API gives. The route module loads on first use (a plain
 * body never needs it).
 */
async function readParsed(text: string, o: HandshakeInputOptions): Promise<HandshakeInput> {
  const { HandshakeRequestSchema } = await import('../../routes/sync.routes.js');
  const parsed = HandshakeRequestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw issuesProblem(parsed.error.issues);
  const body = parsed.data;
  if (!('have' in body)) return { ok: true, body: JSON.stringify(body) };
  const keys: string[] = [];
  const micros: number[] = [];
  forEachHaveTs(body.have, body.prefix, o.maxHaveKeys, (key, us) => {
    keys.push(key);
    micros.push(us);
  });
  // An object names each key once.
  return { ok: true, body: JSON.stringify({ ...body, have: {} }), have: buildHaveList(keys, micros)! };
}

/** A body in blocks: every block full except the last, `length` bytes in all. */
export interface BodyBlocks {
  blocks: ArrayBuffer[];
  length: number;
}

/** The body in one piece (for small ones). */
export function joinBlocks({ blocks, length }: BodyBlocks): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const block of blocks) {
    const n = Math.min(block.byteLength, length - at);
    out.set(new Uint8Array(block, 0, n), at);
    at += n;
  }
  return out;
}

/** The ProblemError that `problem` describes. */
export const problemError = (p: ProblemData) => new ProblemError(p.status, p.kind, p.title, p.detail, p.errors, p.headers);
