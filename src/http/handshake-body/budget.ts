/**
 * A byte budget shared by the handshakes in progress: a `have` map is held
 * as text, then parsed (a few times its size) for the whole handshake, so a
 * burst of large handshakes could otherwise take the process past its
 * memory. A handshake's share is its Content-Length (a chunked body counts
 * as the largest allowed); past the budget it answers 503 with Retry-After.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { ProblemError } from '../problem.js';

export function handshakeBudget(budgetBytes: number, maxBodyBytes: number): MiddlewareHandler<AppEnv> {
  let inFlight = 0;
  return async (c, next) => {
    const length = c.req.header('content-length');
    const share = length !== undefined && c.req.header('transfer-encoding') === undefined ? Number(length) : maxBodyBytes;
    // One handshake alone always runs (its size is bounded by the body limit already).
    if (inFlight > 0 && inFlight + share > budgetBytes) {
      throw new ProblemError(
        503,
        'unavailable',
        'Service Unavailable',
        'Too many large handshakes in progress (KEYSYNC_HANDSHAKE_BYTES); retry later',
        undefined,
        { 'retry-after': '1' },
      );
    }
    inFlight += share;
    try {
      await next();
    } finally {
      inFlight -= share;
    }
  };
}
