/**
 * A handshake body read from its bytes to what the handshake needs: the
 * JSON check every body gets (json-check.ts), the route's schema, and the
 * `have` map's timestamps as micros (have-ts.ts). Pure and self-contained,
 * so a large body can be read on a worker thread (handshake-parse.ts); a
 * refusal is the same ProblemError the route gives on the event loop.
 *
 * The `have` map comes out sorted (have-list.ts), which costs the worker,
 * not the event loop, and crosses threads cheaply: the keys as one string
 * with their end offsets and the micros as a Float64Array, copied flat or
 * transferred.
 */
import { ProblemError, type FieldError, type ProblemKind } from '../http/problem.js';
import { checkJsonBody } from '../http/json-check.js';
import { issuesProblem } from '../http/validation-issues.js';
import { HandshakeRequestSchema } from '../routes/sync.routes.js';
import { buildHaveList, type HaveListData } from './have-list.js';
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
export function readHandshakeInput(bytes: Uint8Array, o: HandshakeInputOptions): HandshakeInput {
  try {
    const { text } = checkJsonBody(bytes, { maxDepth: o.maxJsonDepth + 1, limit: o.maxJsonDepth, capture: [], uniqueKeys: false });
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
    return { ok: true, body: JSON.stringify({ ...body, have: {} }), have: buildHaveList(keys, micros) };
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
