import { createRoute, z } from '@hono/zod-openapi';
import { EntrySchema, RevSchema, StoreIdParam, TsSchema, canonicalUuid, limitProblems, problem } from '../http/schemas.js';

const tags = ['Sync'];
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const SessionIdParam = canonicalUuid().openapi({ param: { name: 'sessionId', in: 'path' }, description: 'Sync session id from the handshake.' });
const CursorParam = z.coerce
  .number()
  .int()
  .min(0)
  .max(2_147_483_647)
  .openapi({ param: { name: 'cursor', in: 'path' }, description: 'Batch number, 0-based.', example: 0 });
const sessionParams = z.object({ storeId: StoreIdParam, sessionId: SessionIdParam });
const common = {
  400: problem('The request is not valid'),
  401: problem('No or unknown token'),
  403: problem('The token lacks the scope or belongs to another store'),
  ...limitProblems,
  404: problem('No such store, session or batch'),
};
const sessionGone = { 410: problem('The session expired (no fetch or ack within KEYSYNC_BATCH_TIMEOUT_MS); handshake again') };

const PrefixField = z.string().max(1024).optional().openapi({ description: 'Sync only keys under this prefix.' });
const BatchSizeField = z.number().int().min(1).max(100_000).optional().openapi({ description: 'Keys per batch (capped by the server).' });

/** The longest ts a client can hold: the server's own are 27 characters. */
const MAX_TS_LENGTH = 64;

/**
 * `have`: a plain loop instead of z.record(z.string(), z.string()), whose
 * generic per-entry parse cost more than the handshake itself on a
 * 100,000-key map. The OpenAPI document describes the same object.
 */
const HaveMap = z
  .custom<Record<string, string>>(
    (value) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      for (const key in value) {
        const ts = (value as Record<string, unknown>)[key];
        if (typeof ts !== 'string' || ts.length > MAX_TS_LENGTH) return false;
      }
      return true;
    },
    { message: `have must be an object mapping each key to the ts string (at most ${MAX_TS_LENGTH} characters) the server gave it` },
  )
  .openapi({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: MAX_TS_LENGTH },
    description: 'Keys the client holds, with the ts the server gave them. Empty for a fresh client.',
    example: { 'users/1': '2026-11-26T07:31:34.123456Z' },
  });

export const HandshakeRequestSchema = z
  .union([
    z
      .object({
        have: HaveMap,
        prefix: PrefixField,
        batchSize: BatchSizeField,
      })
      .strict()
      .openapi('HandshakeByHave'),
    z
      .object({
        since: RevSchema.openapi({ description: 'The highest rev the client has applied.' }),
        prefix: PrefixField,
        batchSize: BatchSizeField,
      })
      .strict()
      .openapi('HandshakeBySince'),
  ])
  .openapi('HandshakeRequest');

export const HandshakeResponseSchema = z
  .object({
    sessionId: z.uuid(),
    stale: z.array(z.string()).openapi({ description: 'Keys to fetch, in delivery order.' }),
    removed: z.array(z.string()).openapi({ description: 'Keys the client must delete.' }),
    headRev: RevSchema,
    batchSize: z.number().int(),
    batches: z.number().int(),
    window: z.number().int().openapi({ description: 'How many batches may be unacknowledged at once.' }),
    expiresAt: TsSchema,
  })
  .openapi('Handshake');

export const handshakeRoute = createRoute({
  operationId: 'handshake',
  method: 'post',
  path: '/v1/stores/{storeId}/sync',
  tags,
  summary: 'Handshake: what is stale on the client',
  description: 'Starts a sync session. With `have`, stale keys are those the client lacks or holds at another ts; with `since`, those changed after that rev. Read scope.',
  request: { params: z.object({ storeId: StoreIdParam }), body: { required: true, content: json(HandshakeRequestSchema) } },
  responses: {
    201: { description: 'Session started', content: json(HandshakeResponseSchema) },
    ...common,
    409: problem('`since` is older than the purged tombstones (since-purged) or ahead of the head (since-ahead): handshake again with `have`'),
    413: problem('The `have` map is too large'),
    415: problem('The body is not application/json'),
    422: problem("The store's `walk` exceeded its budget on this data (walk-failed): too many keys, value nodes or too much time; `detail` names the setting"),
  },
});

export const batchRoute = createRoute({
  operationId: 'batch',
  method: 'get',
  path: '/v1/stores/{storeId}/sync/{sessionId}/batches/{cursor}',
  tags,
  summary: 'Fetch a batch',
  description: 'The current value of each stale key of this batch. Allowed while fewer than `window` earlier batches are unacknowledged. Refetching a cursor returns the same keys.',
  request: { params: sessionParams.extend({ cursor: CursorParam }) },
  responses: {
    200: {
      description: 'The batch',
      content: json(z.object({ cursor: z.number().int(), entries: z.array(EntrySchema), next: z.number().int().nullable() }).openapi('Batch')),
    },
    ...common,
    409: problem('Acknowledge earlier batches first (ack-required)'),
    ...sessionGone,
  },
});

export const ackRoute = createRoute({
  operationId: 'ack',
  method: 'post',
  path: '/v1/stores/{storeId}/sync/{sessionId}/ack',
  tags,
  summary: 'Acknowledge batches',
  description: 'Acknowledges the batch `cursor` and all before it, once the client has applied them. Idempotent.',
  request: {
    params: sessionParams,
    body: { required: true, content: json(z.object({ cursor: z.number().int().min(0).max(2_147_483_647) }).strict().openapi('Ack')) },
  },
  responses: {
    200: {
      description: 'Progress',
      content: json(
        z
          .object({ acked: z.number().int(), next: z.number().int().nullable(), remaining: z.number().int(), done: z.boolean() })
          .openapi('AckResult'),
      ),
    },
    ...common,
    409: problem('That batch has not been fetched yet (not-delivered)'),
    ...sessionGone,
    415: problem('The body is not application/json'),
  },
});

export const SessionStatusSchema = z
  .object({
    sessionId: z.uuid(),
    storeId: z.uuid(),
    headRev: RevSchema,
    batchSize: z.number().int(),
    window: z.number().int(),
    total: z.number().int(),
    batches: z.number().int(),
    delivered: z.number().int(),
    acked: z.number().int(),
    remaining: z.number().int(),
    done: z.boolean(),
    expiresAt: TsSchema,
  })
  .openapi('SessionStatus');

export const sessionStatusRoute = createRoute({
  operationId: 'sessionStatus',
  method: 'get',
  path: '/v1/stores/{storeId}/sync/{sessionId}',
  tags,
  summary: 'Session progress',
  request: { params: sessionParams },
  responses: { 200: { description: 'Progress', content: json(SessionStatusSchema) }, ...common, ...sessionGone },
});

export const cancelSessionRoute = createRoute({
  operationId: 'cancelSession',
  method: 'delete',
  path: '/v1/stores/{storeId}/sync/{sessionId}',
  tags,
  summary: 'Cancel a session',
  request: { params: sessionParams },
  responses: { 204: { description: 'Cancelled' }, ...common },
});
