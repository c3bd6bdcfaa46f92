/** Request log and metrics: the route pattern, never keys, values or tokens. */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from './app-env.js';
import { toProblem } from './error-mapping.js';

/** Counts and times every request; `log` (if any) gets one JSON line per request. */
export function requestLog(log: ((line: string) => void) | undefined): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const { metrics } = c.var.services;
    if (c.res.status === 429 || c.res.status === 503) {
      // The same mapping that produced the answer names the limit that refused it.
      const refused = c.error === undefined ? undefined : toProblem(c.error);
      const refusal = refused ? (refused.limit ?? refused.kind) : 'other';
      metrics.refusals.inc({ status: String(c.res.status), limit: refusal });
    }
    const matched = routePath(c, -1);
    const route = matched && matched !== '*' && matched !== '/*' ? matched : 'unmatched';
    const seconds = (performance.now() - started) / 1000;
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.duration.observe({ method: c.req.method, route }, seconds);
    log?.(
      JSON.stringify({
        t: new Date().toISOString(),
        method: c.req.method,
        route,
        storeId: route.includes(':storeId') ? c.req.param('storeId') : undefined,
        status: c.res.status,
        ms: Math.round(seconds * 10000) / 10,
      }),
    );
  };
}
