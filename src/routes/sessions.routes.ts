import { createRoute, z } from '@hono/zod-openapi';
import { requireAccess } from '../http/auth.js';
import { StoreIdParam, limitProblems, problem } from '../http/schemas.js';
import { SessionStatusSchema } from './sync.routes.js';

export const listSessionsRoute = createRoute({
  operationId: 'listSessions',
  middleware: [requireAccess('admin')],
  method: 'get',
  path: '/v1/stores/{storeId}/sessions',
  tags: ['Sync'],
  summary: 'List open sync sessions',
  description:
    "The store's sync sessions that are neither complete nor expired, least recently active first (at most 200), with their progress (`acked` of `batches`). Read-only; admin only (session ids let their holder fetch and cancel).",
  request: { params: z.object({ storeId: StoreIdParam }) },
  responses: {
    200: {
      description: 'Open sessions',
      content: { 'application/json': { schema: z.object({ items: z.array(SessionStatusSchema) }).openapi('SessionList') } },
    },
    401: problem('No or unknown token'),
    403: problem('Only the admin token may list sessions'),
    404: problem('No such store'),
    ...limitProblems,
  },
});
