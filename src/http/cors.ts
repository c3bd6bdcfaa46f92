/**
 * CORS for browser clients: only the configured origins (KEYSYNC_CORS_ORIGINS)
 * may read responses. Tokens travel in `Authorization`, never in cookies, so
 * credentials mode is off.
 *
 * Every header is set before the handler runs and none after it: a live feed
 * writes its response head to the socket itself (see routes/events.handlers),
 * and Hono re-creates a response that a middleware touches after the handler,
 * which node-server would then answer a second time. (Hono's own `cors` adds
 * `Vary` after the handler.) Set on `c.res`, the headers are carried over to
 * whatever response the handler or the error handler returns.
 */
import type { MiddlewareHandler } from 'hono';
import { HEADERS } from '@keysync/protocol';

const ALLOW_METHODS = 'GET,HEAD,PUT,POST,PATCH,DELETE,OPTIONS';
const ALLOW_HEADERS = [HEADERS.authorization, HEADERS.contentType, HEADERS.ifMatch, HEADERS.ifNoneMatch, HEADERS.lastEventId].join(',');
const EXPOSE_HEADERS = [HEADERS.etag, HEADERS.rev, HEADERS.ts, HEADERS.retryAfter, 'Location'].join(',');
const MAX_AGE_S = '600';

export function corsMiddleware(origins: string[]): MiddlewareHandler {
  const anyOrigin = origins.includes('*');
  return async (c, next) => {
    const origin = c.req.header('origin') ?? '';
    const allowed = anyOrigin ? '*' : origins.includes(origin) ? origin : undefined;
    const headers = c.res.headers;
    if (allowed) headers.set('Access-Control-Allow-Origin', allowed);
    headers.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    // The answer depends on the request's Origin unless every origin gets the same one.
    if (!anyOrigin) headers.append('Vary', 'Origin');
    if (c.req.method === 'OPTIONS') {
      headers.set('Access-Control-Max-Age', MAX_AGE_S);
      headers.set('Access-Control-Allow-Methods', ALLOW_METHODS);
      headers.set('Access-Control-Allow-Headers', ALLOW_HEADERS);
      headers.append('Vary', 'Access-Control-Request-Headers');
      headers.delete('Content-Length');
      headers.delete('Content-Type');
      return new Response(null, { headers, status: 204, statusText: 'No Content' });
    }
    await next();
  };
}
