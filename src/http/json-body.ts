/**
 * Every JSON request body goes through here, so the same mistake gets the
 * same answer on every route, and nesting is bounded before any recursive
 * code (JSON.parse, zod, canonicalize, walks) sees the body:
 * - not UTF-8, empty, truncated, trailing text, not JSON: 400 `bad-request`
 *   "Malformed JSON", with what is wrong and where;
 * - nested deeper than KEYSYNC_MAX_JSON_DEPTH: 400 `json-too-deep`;
 * - a value naming an object member twice: 400 `validation` (readers in
 *   other languages would disagree on which one counts; request envelopes
 *   are read as JSON.parse reads them, the last one counts);
 * - a content type that is not JSON: 415.
 *
 * The body is checked by one linear scan (json-text.ts, via json-check.ts) that also finds the
 * raw text of values, which is what is stored: nothing here turns a value
 * into JavaScript numbers and back.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { spanText, withPlaceholders } from '@keysync/protocol';
import type { AppContext, AppEnv } from './app-env.js';
import { checkJsonBody, type JsonCheckOptions, type ScannedBody } from './json-check.js';
import { assertJsonType, isJsonType } from './request.js';

/** The nesting a body may have is KEYSYNC_MAX_JSON_DEPTH (the server's `maxJsonDepth`) plus its envelope. */
export interface JsonBodyOptions {
  /**
   * Levels the body adds around what it carries (`{"config":…}` 1,
   * `{"ops":[{"value":…}]}` 3): the body may nest that much deeper, so a
   * value within the limit is accepted on every route.
   */
  envelope: number;
  /** values kept as text: their path in the body (see scanJson) */
  capture?: readonly string[];
}

/**
 * Reads and checks a JSON body for the route's validator (which then finds
 * it in hono's body cache). Values at `capture` reach the validator as
 * placeholders (their index); the handler takes their text with `rawValue`.
 */
export function jsonBody(opts: JsonBodyOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    assertJsonType(c);
    const maxDepth = c.var.services.limits.maxJsonDepth;
    // Member names are checked for duplicates inside values only (not in a have map of a million keys).
    const values = opts.capture !== undefined;
    const body = await scanBody(c, { maxDepth: maxDepth + opts.envelope, limit: maxDepth, capture: opts.capture ?? [], uniqueKeys: values });
    const shape = values ? withPlaceholders(body.text, body.spans) : body.text;
    // The validator's `c.req.json()` parses the cached text: the checked body, values as placeholders.
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(shape);
    c.set('scannedBody', body);
    return next();
  };
}

/**
 * For a route whose body is a value of any content type (key PUT): a JSON
 * body is checked here, and `rawValue(c)` is its text without whitespace.
 */
export const jsonValueBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (isJsonType(c.req.header('content-type'))) {
    const maxDepth = c.var.services.limits.maxJsonDepth;
    c.set('scannedBody', await scanBody(c, { maxDepth, limit: maxDepth, capture: [], uniqueKeys: true }));
  }
  return next();
};

/**
 * The text of a value of the body as written, less insignificant whitespace:
 * the whole body on a value route, else the value whose placeholder is `index`.
 */
export function rawValue(c: AppContext, index = 0): string {
  const body = c.get('scannedBody');
  const span = body?.spans[index];
  if (!body || !span) throw new Error('rawValue: no scanned JSON value (is jsonBody/jsonValueBody on this route?)');
  return spanText(body.text, span);
}

async function scanBody(c: Context, o: JsonCheckOptions): Promise<ScannedBody> {
  return checkJsonBody(new Uint8Array(await c.req.arrayBuffer()), o);
}
