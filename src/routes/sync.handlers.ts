import type { App, AppDeps } from '../deps.js';
import { authorize } from '../http/auth.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody, requireJson } from '../http/request.js';
import { clientKey } from '../http/guard.js';
import { handshake, type HandshakeRequest } from '../sync/handshake.js';
import { handshakeBudget } from '../sync/handshake-budget.js';
import { handshakeJson, haveOf } from '../sync/handshake-parse.js';
import { admitSession } from '../sync/quota.js';
import { acknowledge, cancelSession, fetchBatch, sessionStatus } from '../sync/sessions.js';
import { handshakeBody } from '../sync/stale-list.js';
import { ackRoute, batchRoute, cancelSessionRoute, handshakeRoute, sessionStatusRoute } from './sync.routes.js';

export function registerSyncHandlers(app: App, deps: AppDeps): void {
  const { db } = deps.database;
  const { limits } = deps;
  const timeoutMs = limits.batchTimeoutMs;
  const auth = { db, adminToken: deps.adminToken, guard: deps.guard };

  app.use('/v1/stores/:storeId/sync', authorize(auth, 'read'));
  app.use('/v1/stores/:storeId/sync/*', authorize(auth, 'read'));
  // A `have` map of maxHaveKeys entries of ~100 bytes each fits.
  const body = jsonBody({ maxDepth: limits.maxJsonDepth, envelope: 1 });
  const maxHandshakeBytes = Math.max(limits.maxBodyBytes, limits.maxHaveKeys * 128);
  app.post(
    '/v1/stores/:storeId/sync',
    requireJson,
    limitBody(maxHandshakeBytes, 'The handshake'),
    handshakeBudget(limits.handshakeBytes, maxHandshakeBytes),
    handshakeJson(body, { maxJsonDepth: limits.maxJsonDepth, maxHaveKeys: limits.maxHaveKeys }),
  );
  app.post('/v1/stores/:storeId/sync/:sessionId/ack', requireJson, limitBody(4096, 'The ack'), body);

  app.openapi(handshakeRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const body = c.req.valid('json');
    let request: HandshakeRequest;
    if ('have' in body) {
      request = { ...body, have: haveOf(c, body.have, body.prefix, limits.maxHaveKeys) };
    } else request = body;
    const result = await handshake(db, storeId, request, (options) => deps.policies.policyFor(storeId, options), {
      batchSize: limits.batchSize,
      maxBatchSize: limits.maxBatchSize,
      batchBytes: limits.batchBytes,
      window: limits.batchWindow,
      timeoutMs,
      client: clientKey(c),
    });
    if (result.batches > 0) await admitSession(db, limits, storeId, clientKey(c), result.sessionId);
    deps.metrics.syncSessions.inc();
    if (result.batches === 0) deps.metrics.sessionOutcomes.inc({ outcome: 'done' });
    // Streamed: the stale list is read back from the session's chunks (stale-list.ts).
    return c.body(handshakeBody(db, result), 201, { 'Content-Type': 'application/json' }) as never;
  });

  app.openapi(batchRoute, async (c) => {
    const { storeId, sessionId, cursor } = c.req.valid('param');
    const body = await fetchBatch(db, {
      storeId,
      sessionId,
      cursor,
      timeoutMs,
      policyFor: (options) => deps.policies.policyFor(storeId, options),
      open: deps.policies.isOpen(storeId),
    });
    deps.metrics.batches.inc();
    // Bytes: a string body would be measured (Content-Length) and encoded again on write.
    return c.body((typeof body === 'string' ? Buffer.from(body) : body) as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/json' }) as never;
  });

  app.openapi(ackRoute, async (c) => {
    const { storeId, sessionId } = c.req.valid('param');
    const { result, finished } = await acknowledge(db, storeId, sessionId, c.req.valid('json').cursor, timeoutMs);
    if (finished) deps.metrics.sessionOutcomes.inc({ outcome: 'done' });
    return c.json(result, 200);
  });

  app.openapi(sessionStatusRoute, async (c) => {
    const { storeId, sessionId } = c.req.valid('param');
    return c.json(await sessionStatus(db, storeId, sessionId, timeoutMs), 200);
  });

  app.openapi(cancelSessionRoute, async (c) => {
    const { storeId, sessionId } = c.req.valid('param');
    await cancelSession(db, storeId, sessionId);
    deps.metrics.sessionOutcomes.inc({ outcome: 'cancelled' });
    return c.body(null, 204);
  });
}
