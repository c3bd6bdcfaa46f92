/**
 * The OpenAPI 3.1 document, built from the route definitions alone (no
 * handlers, no database), so `scripts/emit-openapi.ts` and `GET /openapi.json`
 * produce the same document.
 */
import { OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import * as events from './routes/events.routes.js';
import * as health from './routes/health.routes.js';
import * as keys from './routes/keys.routes.js';
import * as sessions from './routes/sessions.routes.js';
import * as storesRoutes from './routes/stores.routes.js';
import * as sync from './routes/sync.routes.js';
import * as tokensRoutes from './routes/tokens.routes.js';

const isRoute = (v: unknown): v is RouteConfig => typeof v === 'object' && v !== null && 'method' in v && 'path' in v && 'responses' in v;

export const ALL_ROUTES: RouteConfig[] = [health, storesRoutes, tokensRoutes, keys, sync, sessions, events].flatMap((mod) => Object.values(mod).filter(isRoute));

const VERSION = '1.0.0';

export function openApiDocument(): ReturnType<OpenAPIHono['getOpenAPI31Document']> {
  const app = new OpenAPIHono();
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'KEYSYNC_ADMIN_TOKEN, or a per-store read/write token. Not needed in open mode (no admin token, loopback only).',
  });
  for (const route of ALL_ROUTES) app.openAPIRegistry.registerPath(route);
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'keysync',
      version: VERSION,
      description:
        'Keeps many replicas of a key-value store in sync with one primary over HTTP: a handshake returns the stale keys, ' +
        'acknowledged batches deliver them, and a Server-Sent Events feed pushes every later write.',
      license: { name: 'MIT', url: 'https://opensource.org/license/mit' },
    },
    servers: [{ url: 'http://127.0.0.1:8787', description: 'Local server (npm start)' }],
    security: [{ bearer: [] }],
    tags: [
      { name: 'Stores', description: 'Register and configure stores' },
      { name: 'Tokens', description: 'Per-store read and write tokens (admin)' },
      { name: 'Keys', description: 'Read and write keys' },
      { name: 'Sync', description: 'Handshake, batches and acknowledgements' },
      { name: 'Live', description: 'Server-Sent Events feed' },
      { name: 'Operations', description: 'Health, readiness and metrics' },
    ],
  });
}
