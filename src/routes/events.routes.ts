import { createRoute, z } from '@hono/zod-openapi';
import { EntrySchema, RevSchema, StoreIdParam, problem } from '../http/schemas.js';

export const ReadyEventSchema = z.object({ headRev: RevSchema }).openapi('ReadyEvent', { description: 'Data of `event: ready`.' });
export const ResetEventSchema = z
  .object({
    reason: z.enum(['since-purged', 'since-ahead', 'options-changed']).openapi({
      description: '`options-changed`: the store\'s options were replaced while the feed was open (newly included keys need a `have` handshake).',
    }),
    headRev: RevSchema,
    purgedRev: RevSchema,
  })
  .openapi('ResetEvent', { description: 'Data of `event: reset`: handshake again with `have`; the stream then closes.' });
export const StoreDeletedEventSchema = z
  .object({ storeId: z.uuid() })
  .openapi('StoreDeletedEvent', { description: 'Data of `event: store-deleted`; the stream then closes.' });
export const RevokedEventSchema = z
  .object({ storeId: z.uuid() })
  .openapi('RevokedEvent', { description: 'Data of `event: revoked`: the token that opened the feed was revoked; the stream then closes.' });
export const LiveEventSchema = z
  .object({
    event: z.enum(['put', 'delete', 'ready', 'reset', 'store-deleted', 'revoked']),
    id: z.string().optional().openapi({ description: 'The rev, on put and delete (and on heartbeats).' }),
    data: z.union([EntrySchema, ReadyEventSchema, ResetEventSchema, StoreDeletedEventSchema, RevokedEventSchema]),
  })
  .openapi('LiveEvent', {
    description:
      'One Server-Sent Event. `put` and `delete` carry an Entry with `id: <rev>`; heartbeats are a `: ping` comment plus `id: <rev>`.',
  });

export const eventsRoute = createRoute({
  operationId: 'events',
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
      prefix: z.string().max(1024).regex(/^[^\u0000]*$/, 'must not contain U+0000').optional().openapi({ description: 'Only keys under this prefix.' }),
    }),
    headers: z.object({
      'last-event-id': z.string().regex(/^\d{1,15}$/, 'must be a rev').optional().openapi({ description: 'Set by reconnecting clients; wins over `since`.' }),
    }),
  },
  responses: {
    200: { description: 'The event stream', content: { 'text/event-stream': { schema: LiveEventSchema } } },
    400: problem('The request is not valid'),
    401: problem('No token, or not a token of this store'),
    403: problem('The token lacks the scope'),
    404: problem('No such store'),
    429: problem('Too many live feeds for this store or this client (too-many-subscribers), or the token\'s request rate is exceeded; retry after `Retry-After`'),
    503: problem('The server is shutting down, or serves KEYSYNC_MAX_SUBSCRIBERS feeds already (too-many-subscribers); retry after `Retry-After`'),
  },
});
