import type { ApiServices } from '../api-services.js';
import type { App } from '../http/app-env.js';
import { clientKey } from '../http/caller.js';
import { haveOf } from '../http/handshake-body/reader.js';
import { jsonText } from '../http/json-text-response.js';
import { handshake, type HandshakeRequest } from '../sync/handshake.js';
import { admitSession } from '../sync/quota.js';
import { acknowledge, cancelSession, fetchBatch, sessionStatus } from '../sync/sessions.js';
import { handshakeBody } from '../sync/stale-list.js';
import { BatchSchema, HandshakeResponseSchema, ackRoute, batchRoute, cancelSessionRoute, handshakeRoute, sessionStatusRoute } from './sync.routes.js';

export function registerSyncHandlers(app: App, services: ApiServices): void {
  const { db } = services.database;
  const { limits } = services;
  const timeoutMs = limits.batchTimeoutMs;

  app.openapi(handshakeRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const body = c.req.valid('json');
    let request: HandshakeRequest;
    if ('have' in body) {
      request = { ...body, have: haveOf(c, body.have, body.prefix, limits.maxHaveKeys) };
    } else request = body;
    const result = await handshake(db, storeId, request, (options) => services.policies.policyFor(storeId, options), {
      batchSize: limits.batchSize,
      maxBatchSize: limits.maxBatchSize,
      batchBytes: limits.batchBytes,
      window: limits.batchWindow,
      timeoutMs,
      client: clientKey(c),
    });
    if (result.batches > 0) await admitSession(db, limits, storeId, clientKey(c), result.sessionId);
    services.metrics.syncSessions.inc();
    if (result.batches === 0) services.metrics.sessionOutcomes.inc({ outcome: 'done' });
    // Streamed: the stale list is read back from the session's chunks (stale-list.ts).
    return jsonText(c, HandshakeResponseSchema, handshakeBody(db, result), 201);
  });

  app.openapi(batchRoute, async (c) => {
    const { storeId, sessionId, cursor } = c.req.valid('param');
    const body = await fetchBatch(db, {
      storeId,
      sessionId,
      cursor,
      timeoutMs,
      policyFor: (options) => services.policies.policyFor(storeId, options),
      open: services.policies.isOpen(storeId),
    });
    services.metrics.batches.inc();
    // Bytes: a string body would be measured (Content-Length) and encoded again on write.
    return jsonText(c, BatchSchema, (typeof body === 'string' ? Buffer.from(body) : body) as Uint8Array<ArrayBuffer> | Uint8Array[], 200);
  });

  app.openapi(ackRoute, async (c) => {
    const { storeId, sessionId } = c.req.valid('param');
    const { result, finished } = await acknowledge(db, storeId, sessionId, c.req.valid('json').cursor, timeoutMs);
    if (finished) services.metrics.sessionOutcomes.inc({ outcome: 'done' });
    return c.json(result, 200);
  });

  app.openapi(sessionStatusRoute, async (c) => {
    const { storeId, sessionId } = c.req.valid('param');
    return c.json(await sessionStatus(db, storeId, sessionId, timeoutMs), 200);
  });

  app.openapi(cancelSessionRoute, async (c) => {
    const { storeId, sessionId } = c.req.valid('param');
    await cancelSession(db, storeId, sessionId);
    services.metrics.sessionOutcomes.inc({ outcome: 'cancelled' });
    return c.body(null, 204);
  });
}
