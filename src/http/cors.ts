/**
 * CORS for browser clients: only the configured origins (KEYSYNC_CORS_ORIGINS)
 * may read responses. Tokens travel in `Authorization`, never in cookies, so
 * credentials mode is off.
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { HEADERS } from '../../clients/typescript/src/protocol.js';

export function corsMiddleware(origins: string[]): MiddlewareHandler {
  return cors({
    origin: origins.includes('*') ? '*' : origins,
    allowMethods: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    allowHeaders: [HEADERS.authorization, HEADERS.contentType, HEADERS.ifMatch, HEADERS.ifNoneMatch, HEADERS.lastEventId],
    exposeHeaders: [HEADERS.etag, HEADERS.rev, HEADERS.ts, HEADERS.retryAfter, 'Location'],
    maxAge: 600,
  });
}
