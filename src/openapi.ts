/**
 * The OpenAPI 3.1 document, built from the route definitions alone (no
 * handlers, no database), so `scripts/emit-openapi.ts` and `GET /openapi.json`
 * produce the same document.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import { migrationsFolder } from './db/migrate.js';
import * as events from './routes/events.routes.js';
import * as health from './routes/health.routes.js';
import * as keys from './routes/keys.routes.js';
import { PutOpSchema } from './routes/keys.routes.js';
import * as sessions from './routes/sessions.routes.js';
import * as storesRoutes from './routes/stores.routes.js';
import * as sync from './routes/sync.routes.js';
import * as tokensRoutes from './routes/tokens.routes.js';

const isRoute = (v: unknown): v is RouteConfig => typeof v === 'object' && v !== null && 'method' in v && 'path' in v && 'responses' in v;

export const ALL_ROUTES: RouteConfig[] = [health, storesRoutes, tokensRoutes, keys, sync, sessions, events].flatMap((mod) =>
  Object.values(mod).filter(isRoute),
);

/** The package's version: the document describes the server it ships with. */
export const PACKAGE_VERSION: string = (JSON.parse(readFileSync(join(dirname(migrationsFolder()), 'package.json'), 'utf8')) as { version: string }).version;

type Document = ReturnType<OpenAPIHono['getOpenAPI31Document']>;
type SchemaObject = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * What zod cannot say in the document. zod-to-openapi writes every z.union
 * as a flat `anyOf`: the write ops become `op`-discriminated (the two puts
 * share `op: "put"`, so they form PutOp, told apart by their required
 * fields), and unions whose branches exclude each other (strict objects with
 * different required fields) become `oneOf`.
 */
function refineUnions(doc: Document): Document {
  const schemas = doc.components!.schemas as Record<string, SchemaObject>;
  const described = (name: string) => ({ description: schemas[name]!.description });
  schemas['WriteOp'] = {
    oneOf: [ref('PutOp'), ref('DeleteOp')],
    discriminator: { propertyName: 'op', mapping: { put: ref('PutOp').$ref, delete: ref('DeleteOp').$ref } },
    ...described('WriteOp'),
  };
  // An object schema (as discriminator mappings expect) whose two forms are told apart by their required fields.
  schemas['PutOp'] = {
    type: 'object',
    properties: { op: { type: 'string', enum: ['put'], description: 'Write the key.' } },
    required: ['op'],
    oneOf: [ref('PutJsonOp'), ref('PutBytesOp')],
    ...described('PutOp'),
  };
  schemas['HandshakeRequest'] = { oneOf: [ref('HandshakeByHave'), ref('HandshakeBySince')], ...described('HandshakeRequest') };
  return doc;
}

export function openApiDocument(): Document {
  const app = new OpenAPIHono();
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'KEYSYNC_ADMIN_TOKEN, or a per-store read/write token. Not needed in open mode (no admin token, loopback only).',
  });
  // The guards a route declares are the server's business, not the document's.
  for (const { middleware: _guards, hide: _hide, ...route } of ALL_ROUTES) app.openAPIRegistry.registerPath(route);
  app.openAPIRegistry.register('PutOp', PutOpSchema);
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'keysync',
      version: PACKAGE_VERSION,
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
  return refineUnions(doc);
}
