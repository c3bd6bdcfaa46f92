import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Limits } from '../limits.js';
import type { AppEnv } from '../http/app-env.js';
import { requireAccess } from '../http/auth.js';
import { compressible } from '../http/compression.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody, plainIntegerParams, requireJson } from '../http/request.js';
import { MAX_DIGEST_BUCKETS, MAX_KEY_BYTES } from '@keysync/protocol';
import { MAX_BATCH_SIZE_FIELD, MAX_TS_LENGTH } from '../http/handshake-body/fields.js';
import { EntrySchema, RevSchema, StoreIdParam, canonicalUuid, limitProblems, problem, timestamp } from '../http/schemas.js';

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

const PrefixField = z.string().max(MAX_KEY_BYTES).optional().openapi({ description: 'Sync only keys starting with this prefix.' });
const BatchSizeField = z
  .number()
  .int()
  .min(1)
  .max(MAX_BATCH_SIZE_FIELD)
  .optional()
  .openapi({ description: 'The most keys per batch (capped at KEYSYNC_MAX_BATCH_SIZE; default KEYSYNC_BATCH_SIZE).' });
const ListStaleField = z
  .boolean()
  .optional()
  .openapi({ description: 'false: the response leaves out `stale` (a client that does not read it saves its bytes: about 15 per key). Default true.' });
const InlineField = z.boolean().optional().openapi({
  description:
    'true: when every stale key fits in one batch, the response carries that batch as `batch` and the session is complete: nothing to fetch or acknowledge (a reconnect in one round trip). Default false.',
});

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
    description: 'Keys the client holds, each with the ts the server gave it (send it back as received; compared as an instant). Empty for a fresh client.',
    example: { 'users/1': '2026-11-26T07:31:34.123456Z' },
  });

const BucketCountField = z
  .number()
  .int()
  .min(1)
  .max(MAX_DIGEST_BUCKETS)
  .refine((n) => (n & (n - 1)) === 0, 'buckets must be a power of two')
  .openapi({ description: `How many buckets the keys are folded into: a power of two, at most ${MAX_DIGEST_BUCKETS}.`, example: 4096 });

/** What a replica's digests matched (the digests answer), and the buckets its `have` map lists. */
const DigestBasisSchema = z
  .object({
    rev: RevSchema.openapi({ description: '`rev` of the digests answer.' }),
    optionsVersion: z.number().int().min(0).openapi({ description: '`optionsVersion` of the digests answer.' }),
    buckets: BucketCountField,
    listed: z
      .array(
        z
          .number()
          .int()
          .min(0)
          .max(MAX_DIGEST_BUCKETS - 1),
      )
      .max(MAX_DIGEST_BUCKETS)
      .openapi({ description: 'The buckets whose keys `have` lists, every one of them (at least the `differ` buckets of the answer).' }),
  })
  .strict()
  .refine((d) => d.listed.every((b) => b < d.buckets), { message: 'each listed bucket must be below buckets', path: ['listed'] })
  .openapi('DigestBasis', {
    description:
      '`have` lists only the keys held in the `listed` buckets; every other bucket held what the digests answer matched at `rev`, and the handshake sends what changed there after it.',
  });

export const HandshakeRequestSchema = z
  .union([
    z
      .object({
        have: HaveMap,
        digest: DigestBasisSchema.optional(),
        prefix: PrefixField,
        batchSize: BatchSizeField,
        listStale: ListStaleField,
        inline: InlineField,
      })
      .strict()
      .openapi('HandshakeByHave', { description: 'A handshake from what the client holds (first sync, or after a reset).' }),
    z
      .object({
        since: RevSchema.openapi({ description: 'The highest rev the client has applied.' }),
        prefix: PrefixField,
        batchSize: BatchSizeField,
        listStale: ListStaleField,
        inline: InlineField,
      })
      .strict()
      .openapi('HandshakeBySince', { description: 'A cheap reconnect: only what changed after the rev the client has applied.' }),
  ])
  .openapi('HandshakeRequest', { description: 'Either `have` or `since`, never both.' });

const BatchCountField = z
  .number()
  .int()
  .min(0)
  .openapi({ description: 'How many batches the session has (0: nothing to fetch; the session is already complete).' });
const WindowField = z.number().int().min(1).openapi({ description: 'How many batches may be fetched ahead of the acknowledgements.' });
const ExpiresAtField = timestamp('When the session expires unless a batch is fetched or acknowledged before; each fetch and ack moves it.');

export const BatchSchema = z
  .object({
    cursor: z.number().int().min(0).openapi({ description: "This batch's number." }),
    entries: z.array(EntrySchema).openapi({ description: 'The current entry of each key of this batch, tombstones included.' }),
    next: z.number().int().nullable().openapi({ description: 'The next cursor, or null after the last batch.' }),
  })
  .openapi('Batch', { description: 'One batch of a sync session.' });

export const HandshakeResponseSchema = z
  .object({
    sessionId: z.uuid().openapi({ description: 'The sync session; used in the batch, ack and status routes.' }),
    stale: z
      .array(z.string())
      .optional()
      .openapi({ description: 'Keys the batches will deliver, in delivery order; absent when the request said `listStale: false`.' }),
    removed: z.array(z.string()).openapi({ description: 'Keys the client must delete (deleted on the server, never there, or no longer synced).' }),
    headRev: RevSchema.openapi({ description: "The store's rev when the handshake was taken: open the live feed with `since=headRev`." }),
    batchSize: z.number().int().min(1).openapi({ description: 'The most keys a batch holds (a batch may hold fewer: KEYSYNC_BATCH_BYTES).' }),
    batches: BatchCountField,
    window: WindowField,
    expiresAt: ExpiresAtField,
    // Described on the object: a description here would replace the Batch schema's own.
    batch: BatchSchema.optional(),
  })
  .openapi('Handshake', {
    description:
      'A started sync session. `batch`, its last member, comes when the request said `inline: true` and the session has one batch: batch 0 as its fetch would answer, laid out a line per entry; the session is then complete (delivered and acknowledged).',
  });

/** The largest handshake body: a `have` map of maxHaveKeys entries of ~100 bytes each fits. */
export const maxHandshakeBytes = (limits: Limits) => Math.max(limits.maxBodyBytes, limits.maxHaveKeys * 128);

/** The app's handshake body reader: it holds the byte budget shared by the handshakes in progress. */
const readHandshakeBody: MiddlewareHandler<AppEnv> = (c, next) => c.var.services.handshakeBody(c, next);

export const handshakeRoute = createRoute({
  operationId: 'handshake',
  middleware: [requireAccess('read'), compressible, requireJson, limitBody(maxHandshakeBytes, 'The handshake'), readHandshakeBody],
  method: 'post',
  path: '/v1/stores/{storeId}/sync',
  tags,
  summary: 'Handshake: what is stale on the client',
  description:
    'Starts a sync session. With `have`, stale keys are those the client lacks or holds at another ts; with `since`, those changed after that rev. Read scope.',
  request: { params: z.object({ storeId: StoreIdParam }), body: { required: true, content: json(HandshakeRequestSchema) } },
  responses: {
    201: { description: 'Session started', content: json(HandshakeResponseSchema) },
    ...common,
    409: problem(
      '`since` (or `digest.rev`) is older than the purged tombstones (since-purged) or ahead of the head (since-ahead), or the store cannot use `digest` (digests-unusable): handshake again with the whole `have` map',
    ),
    413: problem('The `have` map is too large'),
    415: problem('The body is not application/json'),
    422: problem("The store's `walk` exceeded its budget on this data (walk-failed): too many keys, value nodes or too much time; `detail` names the setting"),
  },
});

export const batchRoute = createRoute({
  operationId: 'batch',
  middleware: [plainIntegerParams, requireAccess('read')],
  method: 'get',
  path: '/v1/stores/{storeId}/sync/{sessionId}/batches/{cursor}',
  tags,
  summary: 'Fetch a batch',
  description:
    'The current value of each stale key of this batch. Allowed while fewer than `window` earlier batches are unacknowledged. Refetching a cursor returns the same keys.',
  request: { params: sessionParams.extend({ cursor: CursorParam }) },
  responses: {
    200: {
      description: 'The batch',
      content: json(BatchSchema),
    },
    ...common,
    409: problem('Acknowledge earlier batches first (ack-required)'),
    ...sessionGone,
  },
});

export const ackRoute = createRoute({
  operationId: 'ack',
  middleware: [requireAccess('read'), requireJson, limitBody(4096, 'The ack'), jsonBody({ envelope: 1 })],
  method: 'post',
  path: '/v1/stores/{storeId}/sync/{sessionId}/ack',
  tags,
  summary: 'Acknowledge batches',
  description: 'Acknowledges the batch `cursor` and all before it, once the client has applied them. Idempotent.',
  request: {
    params: sessionParams,
    body: {
      required: true,
      content: json(
        z
          .object({
            cursor: z.number().int().min(0).max(2_147_483_647).openapi({ description: 'The batch applied; acknowledges it and every batch before it.' }),
          })
          .strict()
          .openapi('Ack', { description: 'The batch the client has applied.' }),
      ),
    },
  },
  responses: {
    200: {
      description: 'Progress',
      content: json(
        z
          .object({
            acked: z.number().int().min(-1).openapi({ description: 'The highest acknowledged cursor.' }),
            next: z.number().int().nullable().openapi({ description: 'The next cursor to fetch, or null when the session is done.' }),
            remaining: z.number().int().min(0).openapi({ description: 'Stale keys not yet acknowledged.' }),
            done: z.boolean().openapi({ description: 'Every batch is acknowledged: the initial sync is complete.' }),
          })
          .openapi('AckResult', { description: "The session's progress after the acknowledgement." }),
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
    sessionId: z.uuid().openapi({ description: 'The session.' }),
    storeId: z.uuid().openapi({ description: 'Its store.' }),
    headRev: RevSchema.openapi({ description: "The store's rev when the handshake was taken." }),
    batchSize: z.number().int().min(1).openapi({ description: 'The most keys a batch holds.' }),
    window: WindowField,
    total: z.number().int().min(0).openapi({ description: "Stale keys of the session (the length of the handshake's `stale`)." }),
    batches: BatchCountField,
    delivered: z
      .number()
      .int()
      .min(-1)
      .openapi({ description: 'The highest cursor fetched so far; -1 before the first fetch (and always when `batches` is 0).' }),
    acked: z.number().int().min(-1).openapi({ description: 'The highest cursor acknowledged; -1 before the first ack (and always when `batches` is 0).' }),
    remaining: z.number().int().min(0).openapi({ description: 'Stale keys not yet acknowledged.' }),
    done: z.boolean().openapi({ description: 'Every batch is acknowledged (true from the start when `batches` is 0).' }),
    expiresAt: ExpiresAtField,
  })
  .openapi('SessionStatus', { description: 'The progress of a sync session.' });

export const sessionStatusRoute = createRoute({
  operationId: 'sessionStatus',
  middleware: [requireAccess('read')],
  method: 'get',
  path: '/v1/stores/{storeId}/sync/{sessionId}',
  tags,
  summary: 'Session progress',
  request: { params: sessionParams },
  responses: { 200: { description: 'Progress', content: json(SessionStatusSchema) }, ...common, ...sessionGone },
});

export const cancelSessionRoute = createRoute({
  operationId: 'cancelSession',
  middleware: [requireAccess('read')],
  method: 'delete',
  path: '/v1/stores/{storeId}/sync/{sessionId}',
  tags,
  summary: 'Cancel a session',
  request: { params: sessionParams },
  responses: { 204: { description: 'Cancelled' }, ...common },
});

/** How many bytes standard base64 text (padded, as the schema's pattern allows) decodes to; -1 when its length is not a multiple of 4. */
const base64Bytes = (text: string) => (text.length % 4 === 0 ? (text.length / 4) * 3 - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0) : -1);

export const DigestRequestSchema = z
  .object({
    buckets: BucketCountField,
    digests: z
      .string()
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'digests must be standard base64')
      .optional()
      .openapi({
        description:
          'Base64 of 8 bytes per bucket, big-endian: the XOR of the hashes of the keys the replica holds in that bucket (API.md, "Digests"). Omitted: the answer carries the store\'s digests instead of naming the buckets that differ.',
      }),
    prefix: PrefixField,
  })
  .strict()
  .refine((d) => d.digests === undefined || base64Bytes(d.digests) === 8 * d.buckets, { message: 'digests must hold 8 bytes per bucket', path: ['digests'] })
  .openapi('DigestRequest', { description: "The replica's bucket digests, or only their count." });

export const DigestAnswerSchema = z
  .object({
    rev: RevSchema.openapi({ description: "The store's rev the digests were compared at: send it back as `digest.rev`." }),
    optionsVersion: z.number().int().min(0).openapi({ description: "The store options' version: send it back as `digest.optionsVersion`." }),
    buckets: BucketCountField,
    differ: z
      .array(z.number().int().min(0))
      .optional()
      .openapi({ description: "When the request carried `digests`: the buckets whose digests differ from the store's, ascending." }),
    digests: z.string().optional().openapi({
      description: "When the request carried no `digests`: the store's, as the request would carry them (base64 of 8 bytes per bucket, big-endian).",
    }),
  })
  .openapi('DigestAnswer', { description: "Which buckets differ, or the store's digests to compare." });

export const digestsRoute = createRoute({
  operationId: 'digests',
  middleware: [requireAccess('read'), compressible, requireJson, limitBody(maxHandshakeBytes, 'The digests'), jsonBody({ envelope: 1 })],
  method: 'post',
  path: '/v1/stores/{storeId}/sync/digests',
  tags,
  summary: 'Digests: which buckets of keys differ',
  description:
    "The first step of a digest handshake: the replica folds the keys it holds into bucket digests; the answer names the buckets that differ, whose keys the handshake then lists in `have` (with `digest`). A request without `digests` gets the store's digests to compare itself, and the replica can fold its keys while the server folds the store's. Read scope.",
  request: { params: z.object({ storeId: StoreIdParam }), body: { required: true, content: json(DigestRequestSchema) } },
  responses: {
    200: { description: "The buckets that differ, or the store's digests", content: json(DigestAnswerSchema) },
    ...common,
    409: problem("The store's options decide per value (walk or value filter): digests-unusable; handshake with the whole `have` map"),
    413: problem('The body is too large'),
    415: problem('The body is not application/json'),
  },
});
