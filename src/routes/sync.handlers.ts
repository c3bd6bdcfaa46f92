import type { ApiServices } from '../api-services.js';
import type { App } from '../http/app-env.js';
import { clientKey } from '../http/caller.js';
import { haveOf } from '../http/handshake-body/reader.js';
import { jsonText } from '../http/json-text-response.js';
import { validationProblem } from '../http/problem.js';
import { bucketBitmap, type DigestBasis } from '../sync/digest-diff.sql.js';
import { compareDigests } from '../sync/digests.sql.js';
import { nextTurn } from '../sync/event-loop.js';
import { handshake, type HandshakeRequest } from '../sync/handshake.js';
import type { HaveList } from '../sync/have-list.js';
import { digestBucketOf } from '@keysync/protocol';
import { admitSession } from '../sync/quota.js';
import { acknowledge, cancelSession, deliverInline, fetchBatch, sessionStatus } from '../sync/sessions.js';
import { handshakeBody } from '../sync/stale-list.js';
import {
  BatchSchema,
  HandshakeResponseSchema,
  ackRoute,
  batchRoute,
  cancelSessionRoute,
  digestsRoute,
  handshakeRoute,
  sessionStatusRoute,
} from './sync.routes.js';

export function registerSyncHandlers(app: App, services: ApiServices): void {
  const { db } = services.database;
  const { limits } = services;
  const timeoutMs = limits.batchTimeoutMs;
  /** A batch fetch of one of the store's sessions (any cursor), under the store's current options. */
  const batchRequest = (storeId: string, sessionId: string) => ({
    storeId,
    sessionId,
    timeoutMs,
    policyFor: (options: Record<string, unknown>) => services.policies.policyFor(storeId, options),
    open: services.policies.isOpen(storeId),
  });

  app.openapi(handshakeRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const body = c.req.valid('json');
    let request: HandshakeRequest;
    if ('have' in body) {
      request = { ...body, have: haveOf(c, body.have, body.prefix, limits.maxHaveKeys) };
      if (body.digest) await assertListed(request.have, body.digest);
    } else request = body;
    // A store loaded since the planner last counted its rows would be read as if it had none.
    await services.statistics.beforeSync(storeId);
    // Compared with what the replica holds: on the embedded database, from the primary key alone once vacuumed.
    if ('have' in request && (request.digest || request.have.size > 0)) await services.settle?.beforeCompare(storeId);
    const result = await handshake(db, storeId, request, (options) => services.policies.policyFor(storeId, options), {
      batchSize: limits.batchSize,
      maxBatchSize: limits.maxBatchSize,
      batchBytes: limits.batchBytes,
      window: limits.batchWindow,
      timeoutMs,
      client: clientKey(c),
    });
    // One batch, and the client takes it here: served and acknowledged now, so the session holds no place in the quota.
    const listStale = body.listStale ?? true;
    const inline =
      body.inline === true && result.batches === 1 ? await deliverInline(db, batchRequest(storeId, result.sessionId), listStale && !result.chunks) : undefined;
    if (!inline && result.batches > 0) await admitSession(db, limits, storeId, clientKey(c), result.sessionId);
    services.metrics.syncSessions.inc();
    if (inline) services.metrics.batches.inc();
    if (result.batches === 0 || inline?.finished) services.metrics.sessionOutcomes.inc({ outcome: 'done' });
    // Streamed: the stale list, unless left out (listStale: false), is read back from the session's chunks (stale-list.ts).
    return jsonText(
      c,
      HandshakeResponseSchema,
      handshakeBody(db, inline?.keys ? { ...result, chunks: [inline.keys] } : result, { listStale, batch: inline?.body }),
      201,
    );
  });

  app.openapi(digestsRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const { buckets, digests, prefix } = c.req.valid('json');
    // The first step of a digest handshake: planned and settled as the handshake is (see there).
    await services.statistics.beforeSync(storeId);
    await services.settle?.beforeCompare(storeId);
    const answer = await compareDigests(
      db,
      storeId,
      { buckets, digests: digests === undefined ? undefined : Buffer.from(digests, 'base64'), prefix },
      (options) => services.policies.policyFor(storeId, options),
      services.digestFolds,
    );
    return c.json(answer, 200);
  });

  app.openapi(batchRoute, async (c) => {
    const { storeId, sessionId, cursor } = c.req.valid('param');
    const body = await fetchBatch(db, { ...batchRequest(storeId, sessionId), cursor });
    services.metrics.batches.inc();
    // Bytes: a string body would be measured (Content-Length) and encoded again on write.
    return jsonText(c, BatchSchema, (typeof body === 'string' ? Buffer.from(body) : body) as Uint8Array<ArrayBuffer>, 200);
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

/**
 * A digest handshake's `have` may list keys of the listed buckets only: the
 * store's side is compared for those buckets alone, so a key of another
 * bucket would look absent from the store and be removed. The keys are
 * read a slice at a time (one JSON.parse each), with a turn of the event
 * loop between slices.
 */
async function assertListed(have: HaveList, digest: DigestBasis): Promise<void> {
  const { bitmap } = bucketBitmap(digest);
  for (let from = 0; from < have.size; from += LISTED_SLICE) {
    if (from > 0) await nextTurn();
    for (const key of JSON.parse(have.keysJson(from, Math.min(have.size, from + LISTED_SLICE))) as string[]) {
      const bucket = digestBucketOf(key, digest.buckets);
      if (!(bitmap[bucket >> 3]! & (1 << (bucket & 7)))) {
        throw validationProblem([{ path: `have.${key}`, message: `key is in bucket ${bucket}, which digest.listed does not name` }]);
      }
    }
  }
}

/** Keys checked per turn of the event loop by assertListed. */
const LISTED_SLICE = 10_000;
