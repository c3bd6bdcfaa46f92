import { createRoute, z } from '@hono/zod-openapi';
import { requireAccess } from '../http/auth.js';
import { FEED_TOKEN_DEFAULT_TTL_S, FEED_TOKEN_MAX_TTL_S, requireFeedAccess } from '../http/feed-token.js';
import { plainIntegerParams } from '../http/request.js';
import { MAX_KEY_BYTES } from '@keysync/protocol';
import { RevSchema, StoreIdParam, TombstoneSchema, ValueEntrySchema, limitProblems, problem } from '../http/schemas.js';

export const ReadyEventSchema = z
  .object({
    headRev: RevSchema.openapi({ description: 'The rev the feed has reached: the backlog up to it is sent.' }),
    heartbeatMs: z.number().int().min(1).optional().openapi({
      description:
        'The heartbeat interval (KEYSYNC_HEARTBEAT_MS): a client that hears nothing for about twice this may take the connection for dead and reconnect.',
    }),
  })
  .openapi('ReadyEvent', { description: 'Data of `event: ready`.' });
export const ResetEventSchema = z
  .object({
    reason: z.enum(['since-purged', 'since-ahead', 'options-changed']).openapi({
      description:
        "`since-purged`: `since` is older than the purged tombstones; `since-ahead`: `since` is past the store's head (restored from a backup); " +
        "`options-changed`: the store's options were replaced while the feed was open (newly included keys need a `have` handshake).",
    }),
    headRev: RevSchema.openapi({ description: "The store's head rev." }),
    purgedRev: RevSchema.openapi({ description: 'The highest rev of a purged tombstone (0 when none was purged).' }),
  })
  .openapi('ResetEvent', { description: 'Data of `event: reset`: handshake again with `have`; the stream then closes.' });
export const StoreDeletedEventSchema = z
  .object({ storeId: z.uuid().openapi({ description: 'The deleted store.' }) })
  .openapi('StoreDeletedEvent', { description: 'Data of `event: store-deleted`; the stream then closes.' });
export const RevokedEventSchema = z
  .object({ storeId: z.uuid().openapi({ description: 'The store of the feed.' }) })
  .openapi('RevokedEvent', { description: 'Data of `event: revoked`: the token that opened the feed was revoked; the stream then closes.' });

const RevId = z.string().openapi({ description: "The SSE `id:` line: the rev, the client's `Last-Event-ID` on reconnect.", example: '42' });
const frame = <E extends string, D extends z.ZodType>(event: E, data: D, name: string, description: string, id = false) =>
  z
    .object({
      event: z.literal(event).openapi({ description: 'The SSE `event:` line.' }),
      ...(id ? { id: RevId } : {}),
      data,
    })
    .openapi(name, { description });

export const LiveEventSchema = z
  .discriminatedUnion('event', [
    frame('put', ValueEntrySchema, 'LivePut', 'A key was written (`id: <rev>`).', true),
    frame('delete', TombstoneSchema, 'LiveDelete', 'A key was deleted (`id: <rev>`).', true),
    frame('ready', ReadyEventSchema, 'LiveReady', 'The backlog is sent; the feed is live from here.'),
    frame('reset', ResetEventSchema, 'LiveReset', 'The feed cannot continue from `since`: handshake again with `have`. The stream closes.'),
    frame('store-deleted', StoreDeletedEventSchema, 'LiveStoreDeleted', 'The store was unregistered. The stream closes.'),
    frame('revoked', RevokedEventSchema, 'LiveRevoked', 'The token that opened the feed was revoked. The stream closes.'),
  ])
  .openapi('LiveEvent', {
    description:
      'One Server-Sent Event, as `event:`, optional `id:` and one `data:` line of JSON. Between events the server sends ' +
      'heartbeats: a `: ping` comment and an `id: <rev>` line, which dispatch no event but move `Last-Event-ID`.',
  });

export const eventsRoute = createRoute({
  operationId: 'events',
  middleware: [plainIntegerParams, requireFeedAccess],
  method: 'get',
  path: '/v1/stores/{storeId}/events',
  tags: ['Live'],
  summary: 'Live feed (Server-Sent Events)',
  description:
    'Backlog after `since` (or `Last-Event-ID`, which wins), compacted and in rev order, then `event: ready`, then every write as it commits. ' +
    'Without either the feed starts at the head. Heartbeats every KEYSYNC_HEARTBEAT_MS. A subscriber that cannot keep up is disconnected and catches up on reconnect. Read scope.',
  request: {
    params: z.object({ storeId: StoreIdParam }),
    query: z.object({
      since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({ description: 'Start after this rev.' }),
      // Checked here: the feed reads with it only after the stream has started (a 200 by then).
      prefix: z
        .string()
        .max(MAX_KEY_BYTES)
        .regex(/^[^\u0000]*$/, 'must not contain U+0000')
        .optional()
        .openapi({ description: 'Only keys under this prefix.' }),
      access_token: z.string().max(1024).optional().openapi({
        description:
          "A feed token (`POST .../feed-tokens`) for clients that cannot send `Authorization`, such as a browser's native EventSource. Ignored when an `Authorization` header is present.",
      }),
    }),
    headers: z.object({
      'last-event-id': z
        .string()
        .regex(/^\d{1,15}$/, 'must be a rev')
        .optional()
        .openapi({ description: 'Set by reconnecting clients; wins over `since`.' }),
    }),
  },
  responses: {
    200: { description: 'The event stream', content: { 'text/event-stream': { schema: LiveEventSchema } } },
    400: problem('The request is not valid'),
    401: problem('No or unknown token'),
    403: problem('The token lacks the scope or belongs to another store'),
    404: problem('No such store'),
    429: problem(
      "Too many live feeds for this store or this client (too-many-subscribers), or the token's request rate is exceeded; retry after `Retry-After`",
    ),
    503: problem('The server is shutting down, or serves KEYSYNC_MAX_SUBSCRIBERS feeds already (too-many-subscribers); retry after `Retry-After`'),
  },
});

export const createFeedTokenRoute = createRoute({
  operationId: 'createFeedToken',
  middleware: [requireAccess('read')],
  method: 'post',
  path: '/v1/stores/{storeId}/feed-tokens',
  tags: ['Live'],
  summary: 'Mint a feed token',
  description:
    "A short-lived token that opens this store's live feed only, passed as `?access_token=` (for a browser's native EventSource). " +
    'It ends with the token that minted it: revoking that token refuses new feeds and ends open ones. Read scope.',
  request: {
    params: z.object({ storeId: StoreIdParam }),
    body: {
      required: false,
      content: {
        'application/json': {
          schema: z
            .object({
              ttlSeconds: z
                .number()
                .int()
                .min(10)
                .max(FEED_TOKEN_MAX_TTL_S)
                .optional()
                .openapi({
                  description: `Lifetime in seconds (default ${FEED_TOKEN_DEFAULT_TTL_S}). The token is checked when a feed opens; an open feed outlives it.`,
                }),
            })
            .strict()
            .openapi('CreateFeedToken'),
        },
      },
    },
  },
  responses: {
    201: {
      description: 'Minted',
      content: {
        'application/json': {
          schema: z
            .object({
              token: z.string().openapi({ description: 'Pass as `access_token` on `GET .../events`.' }),
              expiresAt: z.string().openapi({ description: 'ISO 8601 time after which no feed opens with it.' }),
            })
            .openapi('FeedToken'),
        },
      },
    },
    400: problem('The request is not valid'),
    401: problem('No or unknown token'),
    403: problem('The token belongs to another store'),
    404: problem('No such store'),
    ...limitProblems,
  },
});
