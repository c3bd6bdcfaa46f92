import { createRoute, z } from '@hono/zod-openapi';
import { publicAccess } from '../http/auth.js';
import { problem } from '../http/schemas.js';

const tags = ['Operations'];

export const healthzRoute = createRoute({
  operationId: 'healthz',
  middleware: [publicAccess],
  method: 'get',
  path: '/healthz',
  tags,
  security: [],
  summary: 'Liveness',
  responses: { 200: { description: 'The process runs', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
});

export const readyzRoute = createRoute({
  operationId: 'readyz',
  middleware: [publicAccess],
  method: 'get',
  path: '/readyz',
  tags,
  security: [],
  summary: 'Readiness',
  description: '200 when the database answers and migrations are applied, else 503.',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: z.object({ status: z.literal('ready') }) } } },
    503: problem('Not ready: the database does not answer, migrations are missing, or the server is shutting down'),
  },
});

export const metricsRoute = createRoute({
  operationId: 'metrics',
  middleware: [publicAccess],
  method: 'get',
  path: '/metrics',
  tags,
  security: [],
  summary: 'Prometheus metrics',
  responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
});
