/**
 * A JSON response whose body the handler already holds as JSON text (bytes,
 * or a stream of them: a batch read back as stored, a streamed stale list)
 * rather than as a value for `c.json` to serialize again.
 */
import type { z } from '@hono/zod-openapi';
import type { TypedResponse } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { JSONParsed } from 'hono/utils/types';
import type { AppContext } from './app-env.js';

/** The text, its bytes, or a stream of them. */
type JsonTextBody = string | Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>;

/**
 * `body` sent as `application/json`, typed as the route's JSON response of
 * `schema`: the handler's promise that the text matches the schema, which
 * the types cannot check.
 */
export function jsonText<S extends z.ZodType, U extends ContentfulStatusCode>(
  c: AppContext,
  schema: S,
  body: JsonTextBody,
  status: U,
): Response & TypedResponse<JSONParsed<z.output<S>>, U, 'json'> {
  void schema;
  // A length (when the body is whole) lets compression size its buffers to the body (http/compression).
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : undefined;
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (length !== undefined) headers['Content-Length'] = String(length);
  const response: Response = c.body(body, status, headers);
  // A TypedResponse is a Response with the route's body type attached for the compiler only.
  return response as Response & TypedResponse<JSONParsed<z.output<S>>, U, 'json'>;
}
