/** Reading the parts of a request the validators do not cover: raw key segments, bodies, revs in headers. */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Limits } from '../limits.js';
import type { AppEnv } from './app-env.js';
import { ProblemError, validationProblem } from './problem.js';
import { keyProblem } from '@keysync/protocol';

/**
 * The key from the raw URL path, decoded exactly once. Hono's own param
 * decoding keeps malformed escapes as text; a key must instead be a clean,
 * valid percent-encoding of UTF-8 (else 400).
 */
export function keyFromPath(c: Context): string {
  // The raw URL, not `c.req.path` (already decoded once); no URL object for a slice of a string.
  const url = c.req.url;
  const marker = url.indexOf('/keys/');
  const query = url.indexOf('?', marker);
  return decodeKey(url.slice(marker + '/keys/'.length, query === -1 ? undefined : query), 'key');
}

/**
 * The key from the `key` query parameter (`/v1/stores/{id}/key?key=...`), the
 * form that reaches every key, `.` and `..` included, which URL-normalising
 * clients rewrite in a path. Form encoding: `+` is a space.
 */
export function keyFromQuery(c: Context): string {
  const url = c.req.url;
  const start = url.indexOf('?');
  const hash = url.indexOf('#');
  const raws =
    start === -1
      ? []
      : url
          .slice(start + 1, hash === -1 ? undefined : hash)
          .split('&')
          .filter((p) => p === 'key' || p.startsWith('key='));
  if (raws.length !== 1) {
    throw validationProblem([{ path: 'key', message: raws.length === 0 ? 'the `key` query parameter is required' : 'give the `key` query parameter once' }]);
  }
  return decodeKey(raws[0]!.slice('key='.length).replaceAll('+', ' '), 'key');
}

function decodeKey(raw: string, path: string): string {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw validationProblem([{ path, message: 'key is not valid percent-encoded UTF-8' }]);
  }
  const problem = keyProblem(key);
  if (problem) throw new ProblemError(400, 'validation', 'Validation Failed', problem, [{ path, message: problem }]);
  return key;
}

export const isJsonType = (contentType: string | undefined) => !!contentType && /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType.trim());

/** 415 unless the request declares a JSON body. */
export function assertJsonType(c: Context): void {
  if (!isJsonType(c.req.header('content-type'))) {
    throw new ProblemError(415, 'unsupported-media-type', 'Unsupported Media Type', 'Send the body as application/json');
  }
}

/** 415 unless the request declares a JSON body. */
export const requireJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  assertJsonType(c);
  return next();
};

/**
 * Caps a request body (declared or streamed) at `max` bytes (a number, or read
 * from the server's limits), answering 413 as problem+json.
 * A body with a Content-Length is checked here (node's parser never reads past it);
 * only a chunked body goes through hono's `bodyLimit`, which counts the bytes as they
 * stream in. Touching `c.req.raw.body` at all (as `bodyLimit` does first) turns
 * node-server's direct body read into a web stream, which costs more than the rest
 * of a small write.
 */
export function limitBody(max: number | ((limits: Limits) => number), what: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const maxBytes = typeof max === 'number' ? max : max(c.var.services.limits);
    const tooLarge = () => new ProblemError(413, 'payload-too-large', 'Payload Too Large', `${what} is larger than ${maxBytes} bytes`);
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) {
      const streamed = bodyLimit({
        maxSize: maxBytes,
        onError: () => {
          throw tooLarge();
        },
      });
      return streamed(c, next);
    }
    if (Number(length) > maxBytes) throw tooLarge();
    return next();
  };
}

/** Query parameters that carry numbers, on every route that takes them. */
const NUMERIC_QUERY = ['limit', 'since'] as const;

/**
 * Numbers in the URL (`limit`, `since`, a batch cursor) must be plain decimal
 * digits: the schemas coerce with `Number()`, which would also take `0x10`,
 * `1e0`, ` 1` and the empty string. Checked before the schemas see them.
 */
export const plainIntegerParams: MiddlewareHandler<AppEnv> = async (c, next) => {
  for (const name of NUMERIC_QUERY) {
    const value = c.req.query(name);
    if (value !== undefined && !/^\d{1,16}$/.test(value)) throw validationProblem([{ path: name, message: 'must be a plain decimal integer' }]);
  }
  const cursor = /\/batches\/([^/?]*)$/.exec(c.req.path)?.[1];
  if (cursor !== undefined && !/^\d{1,16}$/.test(cursor)) throw validationProblem([{ path: 'cursor', message: 'must be a plain decimal integer' }]);
  return next();
};

/** `"42"` or `W/"42"` → 42; anything else is a 400. */
export function parseRevTag(header: string, name: string): number {
  const match = /^(?:W\/)?"?(\d{1,15})"?$/.exec(header.trim());
  if (!match) throw validationProblem([{ path: name, message: `${name} must be a quoted rev such as "42"` }]);
  return Number(match[1]);
}
