/**
 * createApp(parts): the HTTP API as an OpenAPIHono app. No environment, no
 * listening, no timers: everything it needs comes in through `parts`. Each
 * route brings its own guards (access, body limits, JSON checks) in its
 * definition (routes/*.routes.ts); what is set up here applies to every
 * request.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiServices, ServerParts } from './api-services.js';
import { migrationsApplied } from './db/migrate.js';
import type { AppEnv } from './http/app-env.js';
import { connectionClose } from './http/connection-close.js';
import { registerConsole } from './http/console.js';
import { corsMiddleware } from './http/cors.js';
import { handleError } from './http/error-mapping.js';
import { FeedTokens } from './http/feed-token.js';
import { handshakeBudget } from './http/handshake-body/budget.js';
import { handshakeJson } from './http/handshake-body/reader.js';
import { jsonBody } from './http/json-body.js';
import { openModeHostCheck } from './http/open-mode-host.js';
import { ProblemError } from './http/problem.js';
import { requestLog } from './http/request-log.js';
import { unmatchedRequest } from './http/unmatched.js';
import { issuesProblem } from './http/validation-issues.js';
import { openApiDocument } from './openapi.js';
import { registerDocs } from './routes/docs.js';
import { registerEventHandlers } from './routes/events.handlers.js';
import { healthzRoute, metricsRoute, readyzRoute } from './routes/health.routes.js';
import { registerKeyHandlers } from './routes/keys.handlers.js';
import { registerSessionHandlers } from './routes/sessions.handlers.js';
import { registerStoreHandlers } from './routes/stores.handlers.js';
import { maxHandshakeBytes } from './routes/sync.routes.js';
import { registerSyncHandlers } from './routes/sync.handlers.js';
import { registerTokenHandlers } from './routes/tokens.handlers.js';
import { compression, type CompressionOptions } from './http/compression.js';

export interface CreateAppOptions {
  /** one JSON line per request; default: console.log */
  log?: ((line: string) => void) | false;
  /** browser origins allowed to call the API (CORS); `*` for any; default none */
  corsOrigins?: string[];
  /** open mode only: Host names served besides the loopback ones (lower case, no port) */
  allowedHosts?: string[];
  /** response compression; default on (br, gzip) */
  compression?: CompressionOptions;
}

export function createApp(parts: ServerParts, opts: CreateAppOptions = {}): OpenAPIHono<AppEnv> {
  const services = withRouteServices(parts);
  const app = new OpenAPIHono<AppEnv>({
    // Validation failures become problem+json with every offending path.
    defaultHook: (result) => {
      if (!result.success) {
        throw issuesProblem(result.error.issues);
      }
    },
  });
  const log = opts.log === false ? undefined : (opts.log ?? ((line: string) => console.log(line)));

  app.use(async (c, next) => {
    c.set('services', services);
    return next();
  });
  app.use(connectionClose);
  app.use(requestLog(log));
  if (parts.adminToken === undefined) app.use(openModeHostCheck(opts.allowedHosts ?? []));
  app.use(compression(opts.compression));
  // Before every route's access guard: a preflight carries no token.
  if (opts.corsOrigins && opts.corsOrigins.length > 0) app.use(corsMiddleware(opts.corsOrigins));

  app.onError(handleError);
  app.notFound(unmatchedRequest(app));

  app.openapi(healthzRoute, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyzRoute, async (c) => {
    const ready = parts.accepting() && (await migrationsApplied(parts.database));
    if (!ready) throw new ProblemError(503, 'unavailable', 'Not Ready', 'The database does not answer, migrations are missing, or the server is stopping');
    return c.json({ status: 'ready' as const }, 200);
  });
  app.openapi(metricsRoute, async (c) => c.text(await parts.metrics.registry.metrics(), 200, { 'Content-Type': parts.metrics.registry.contentType }));

  registerStoreHandlers(app, services);
  registerTokenHandlers(app, services);
  registerKeyHandlers(app, services);
  registerSyncHandlers(app, services);
  registerSessionHandlers(app, services);
  registerEventHandlers(app, services);

  const document = openApiDocument();
  app.get('/openapi.json', (c) => c.json(document));
  registerDocs(app, '/openapi.json');
  registerConsole(app);
  return app;
}

/** What the routes' guards need besides the server's parts, made once per app (they hold state). */
function withRouteServices(parts: ServerParts): ApiServices {
  const { limits } = parts;
  const budget = handshakeBudget(limits.handshakeBytes, maxHandshakeBytes(limits));
  const read = handshakeJson(jsonBody({ envelope: 1 }), { maxJsonDepth: limits.maxJsonDepth, maxHaveKeys: limits.maxHaveKeys });
  return {
    ...parts,
    feedTokens: new FeedTokens(parts.adminToken),
    handshakeBody: (c, next) =>
      budget(c, async () => {
        await read(c, next);
      }),
  };
}
