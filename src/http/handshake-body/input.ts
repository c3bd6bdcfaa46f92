/**
 * A handshake body read from its bytes to what the handshake needs: the
 * JSON check every body gets (json-check.ts), the route's schema, and the
 * `have` map's timestamps as micros (have-ts.ts). Pure and self-contained,
 * so a large body can be read on a worker thread (reader.ts); a
 * refusal is the same ProblemError the route gives on the event loop.
 *
 * The result crosses threads cheaply: the keys as one string with their
 * lengths (a key may hold any character, so no separator is safe) and the
 * micros as a Float64Array, both transferable or copied flat.
 */
import { HandshakeRequestSchema } from '../../routes/sync.routes.js';
import { checkJsonBody } from '../json-check.js';
import { ProblemError, type FieldError, type ProblemKind } from '../problem.js';
import { issuesProblem } from '../validation-issues.js';
import { forEachHaveTs } from './have-ts.js';

export interface HandshakeInputOptions {
  /** KEYSYNC_MAX_JSON_DEPTH (the body's envelope adds one level) */
  maxJsonDepth: number;
  /** KEYSYNC_MAX_HAVE_KEYS */
  maxHaveKeys: number;
}

/** The keys of a `have` map under the prefix, in map order, with their ts in micros. */
export interface HaveEntries {
  /** the keys one after another */
  keys: string;
  /** each key's length in UTF-16 units */
  lengths: Uint32Array;
  micros: Float64Array;
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
  { ok: true; body: string; have?: HaveEntries } | { ok: false; problem: ProblemData };

/**
 * Reads a handshake body. The `have` entries go to `emit` in slices of
 * `slice` as they are read (the receiver can build its map meanwhile); the
 * result holds the last slice. A refusal after some slices were emitted
 * voids them.
 */
export function readHandshakeInput(bytes: Uint8Array, o: HandshakeInputOptions, emit?: (entries: HaveEntries) => void, slice = Infinity): HandshakeInput {
  try {
    const { text } = checkJsonBody(bytes, { maxDepth: o.maxJsonDepth + 1, limit: o.maxJsonDepth, capture: [], uniqueKeys: false });
    const parsed = HandshakeRequestSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw issuesProblem(parsed.error.issues);
    const body = parsed.data;
    if (!('have' in body)) return { ok: true, body: JSON.stringify(body) };
    let keys: string[] = [];
    let micros: number[] = [];
    const entries = (): HaveEntries => {
      const lengths = new Uint32Array(keys.length);
      for (let i = 0; i < keys.length; i++) lengths[i] = keys[i]!.length;
      const out = { keys: keys.join(''), lengths, micros: Float64Array.from(micros) };
      keys = [];
      micros = [];
      return out;
    };
    forEachHaveTs(body.have, body.prefix, o.maxHaveKeys, (key, us) => {
      keys.push(key);
      micros.push(us);
      if (emit && keys.length >= slice) emit(entries());
    });
    return { ok: true, body: JSON.stringify({ ...body, have: {} }), have: entries() };
  } catch (err) {
    if (!(err instanceof ProblemError)) throw err;
    const { status, kind, title, detail, errors, headers } = err;
    return { ok: false, problem: { status, kind, title, detail, errors, headers } };
  }
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
