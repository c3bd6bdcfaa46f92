/**
 * createApp(deps): the HTTP API as an OpenAPIHono app. No environment, no
 * listening, no timers: everything it needs comes in through `deps`.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { routePath } from 'hono/route';
import type { AppDeps } from './deps.js';
import { ProblemError, handleError, problemResponse, validationProblem } from './errors.js';
import { DomainError } from './domain-errors.js';
import { domainProblem } from './http/domain-problem.js';
import { openApiDocument } from './openapi.js';
import { migrationsApplied } from './db/migrate.js';
import { registerDocs } from './routes/docs.js';
import { registerEventHandlers } from './routes/events.handlers.js';
import { healthzRoute, metricsRoute, readyzRoute } from './routes/health.routes.js';
import { registerKeyHandlers } from './routes/keys.handlers.js';
import { registerStoreHandlers } from './routes/stores.handlers.js';
import { registerSessionHandlers } from './routes/sessions.handlers.js';
import { registerSyncHandlers } from './routes/sync.handlers.js';
import { registerTokenHandlers } from './routes/tokens.handlers.js';
import { registerConsole } from './http/console.js';
import { corsMiddleware } from './http/cors.js';
import { setAddressResolver } from './http/guard.js';
import { issuesProblem } from './http/validation-issues.js';
import { openModeHostCheck } from './http/open-mode-host.js';
import { plainIntegerParams } from './http/request.js';

export interface CreateAppOptions {
  /** one JSON line per request; default: console.log */
  log?: ((line: string) => void) | false;
  /** browser origins allowed to call the API (CORS); `*` for any; default none */
  corsOrigins?: string[];
  /** open mode only: Host names served besides the loopback ones (lower case, no port) */
  allowedHosts?: string[];
}

export function createApp(deps: AppDeps, opts: CreateAppOptions = {}): OpenAPIHono {
  const app = new OpenAPIHono({
    // Validation failures become problem+json with every offending path.
    defaultHook: (result) => {
      if (!result.success) {
        throw issuesProblem(result.error.issues);
      }
    },
  });
  const log = opts.log === false ? undefined : (opts.log ?? ((line: string) => console.log(line)));

  // `Connection: close` when the connection should not carry another request: while stopping
  // (busy keep-alive clients move on and the process drains instead of waiting for the force
  // timeout), and after an error answered before the request body was read (the unread body
  // would otherwise stall the connection until the server drops it under the client's next request).
  app.use(async (c, next) => {
    await next();
    const hasBody = c.req.header('transfer-encoding') !== undefined || Number(c.req.header('content-length') ?? 0) > 0;
    const unreadBody = hasBody && c.res.status >= 400 && (c.res.status === 413 || !c.req.raw.bodyUsed);
    if (!deps.accepting() || unreadBody) {
      try {
        c.res.headers.set('Connection', 'close');
      } catch {
        /* a response with immutable headers */
      }
    }
  });

  // Request log and metrics: the route pattern, never keys, values or tokens.
  app.use(async (c, next) => {
    const started = performance.now();
    setAddressResolver(c, deps.clientAddress);
    await next();
    if (c.res.status === 429 || c.res.status === 503) {
      const refused = c.error instanceof DomainError ? domainProblem(c.error) : c.error;
      const refusal = refused instanceof ProblemError ? (refused.limit ?? refused.kind) : 'other';
      deps.metrics.refusals.inc({ status: String(c.res.status), limit: refusal });
    }
    const matched = routePath(c, -1);
    const route = matched && matched !== '*' && matched !== '/*' ? matched : 'unmatched';
    const seconds = (performance.now() - started) / 1000;
    deps.metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    deps.metrics.duration.observe({ method: c.req.method, route }, seconds);
    log?.(
      JSON.stringify({
        t: new Date().toISOString(),
        method: c.req.method,
        route,
        storeId: route.includes(':storeId') ? c.req.param('storeId') : undefined,
        status: c.res.status,
        ms: Math.round(seconds * 10000) / 10,
      }),
    );
  });

  if (deps.adminToken === undefined) app.use(openModeHostCheck(opts.allowedHosts ?? []));
  app.use('/v1/*', plainIntegerParams);

  // Before every auth middleware: a preflight carries no token.
  if (opts.corsOrigins && opts.corsOrigins.length > 0) app.use(corsMiddleware(opts.corsOrigins));

  app.onError(handleError);
  app.notFound((c) => notFoundOrMethod(app, c));

  app.openapi(healthzRoute, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyzRoute, async (c) => {
    const ready = deps.accepting() && (await migrationsApplied(deps.database));
    if (!ready) throw new ProblemError(503, 'unavailable', 'Not Ready', 'The database does not answer, migrations are missing, or the server is stopping');
    return c.json({ status: 'ready' as const }, 200);
  });
  app.openapi(metricsRoute, async (c) =>
    c.body(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType }) as never,
  );

  registerStoreHandlers(app, deps);
  registerTokenHandlers(app, deps);
  registerKeyHandlers(app, deps);
  registerSyncHandlers(app, deps);
  registerSessionHandlers(app, deps);
  registerEventHandlers(app, deps);

  const document = openApiDocument();
  app.get('/openapi.json', (c) => c.json(document));
  registerDocs(app, '/openapi.json');
  registerConsole(app);
  return app;
}

/** 405 with `Allow` when the path exists under other methods, else 404; both problem+json. */
function notFoundOrMethod(app: OpenAPIHono, c: Context): Response {
  const path = c.req.path;
  const unencoded = unencodedKeyProblem(c.req.method, path);
  if (unencoded) return problemResponse(unencoded);
  const allowed = new Set<string>();
  for (const route of app.routes) {
    if (route.method === 'ALL' || route.path === '/*') continue;
    const pattern = '^' + route.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*') + '$';
    if (new RegExp(pattern).test(path)) allowed.add(route.method);
  }
  if (allowed.size > 0 && !allowed.has(c.req.method)) {
    if (allowed.has('GET')) allowed.add('HEAD');
    return problemResponse(
      new ProblemError(405, 'method-not-allowed', 'Method Not Allowed', `${c.req.method} is not allowed here`, undefined, {
        allow: [...allowed].sort().join(', '),
      }),
    );
  }
  return problemResponse(new ProblemError(404, 'not-found', 'Not Found', `No route for ${c.req.method} ${path}`));
}

const SPLIT_KEY = /^(\/v1\/stores\/[^/]+\/keys\/)([^/]*\/.*)$/;

/**
 * `/keys/users/1`: a key sent with its slashes unencoded reaches no route.
 * Rather than a bare 404 (which a client could take for "no such key"),
 * say how to send it.
 */
function unencodedKeyProblem(method: string, path: string): ProblemError | undefined {
  const match = ['GET', 'HEAD', 'PUT', 'DELETE'].includes(method) ? SPLIT_KEY.exec(path) : null;
  if (!match) return undefined;
  const encoded = match[2]!.replaceAll('/', '%2F');
  const store = match[1]!.slice(0, -'keys/'.length);
  const message = `percent-encode the key as one path segment (${match[1]}${encoded}), or send it in the query (${store}key?key=${encoded})`;
  return validationProblem([{ path: 'key', message }], `A key is one path segment: its slashes must be percent-encoded as %2F (${encoded})`);
}

