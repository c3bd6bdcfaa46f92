/**
 * `Connection: close` when the connection should not carry another request:
 * while stopping (busy keep-alive clients move on and the process drains
 * instead of waiting for the force timeout), and after an error answered
 * before the request body was read (the unread body would otherwise stall
 * the connection until the server drops it under the client's next request).
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.js';

export const connectionClose: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  const hasBody = c.req.header('transfer-encoding') !== undefined || Number(c.req.header('content-length') ?? 0) > 0;
  const unreadBody = hasBody && c.res.status >= 400 && (c.res.status === 413 || !c.req.raw.bodyUsed);
  if (!c.var.services.accepting() || unreadBody) {
    try {
      c.res.headers.set('Connection', 'close');
    } catch {
      /* a response with immutable headers */
    }
  }
};
