/**
 * Process entry: read the environment, lock the embedded data folder, open
 * the database, listen, and shut down gracefully on SIGTERM / SIGINT
 * (stop accepting, end live feeds cleanly, let in-flight requests finish).
 */
import { serve } from '@hono/node-server';
import { lockDataDir } from './db/lock.js';
import { templateForNewFolder } from './db/template.js';
import { type Env, isLoopback, limitsFrom, readEnv, walkLimitsFrom } from './env.js';
import { answerClientErrors } from './http/client-error.js';
import { createKeysync } from './keysync.js';

function fail(message: string): never {
  console.error(`keysync: ${message}`);
  process.exit(1);
}

async function main(): Promise<void> {
  let env: Env;
  try {
    env = readEnv();
  } catch (err) {
    fail((err as Error).message);
  }
  if (!env.KEYSYNC_ADMIN_TOKEN && !isLoopback(env.HOST)) {
    fail(`refusing to start without KEYSYNC_ADMIN_TOKEN on non-loopback HOST ${env.HOST}; set a token or listen on 127.0.0.1`);
  }
  let release: (() => void) | undefined;
  if (!env.DATABASE_URL) {
    try {
      release = lockDataDir(env.KEYSYNC_DATA_DIR);
    } catch (err) {
      fail((err as Error).message);
    }
  }

  const keysync = await createKeysync({
    databaseUrl: env.DATABASE_URL,
    dataDir: env.KEYSYNC_DATA_DIR,
    pgliteTemplate: env.DATABASE_URL ? undefined : await templateForNewFolder(env.KEYSYNC_DATA_DIR),
    adminToken: env.KEYSYNC_ADMIN_TOKEN,
    limits: limitsFrom(env),
    walkLimits: walkLimitsFrom(env),
    housekeepingMs: env.KEYSYNC_PURGE_INTERVAL_MS,
    log: env.KEYSYNC_LOG === 'off' ? false : undefined,
    corsOrigins: env.KEYSYNC_CORS_ORIGINS,
    allowedHosts: env.KEYSYNC_ALLOWED_HOSTS,
    compression: {
      enabled: env.KEYSYNC_COMPRESSION === 'on',
      gzipLevel: env.KEYSYNC_GZIP_LEVEL,
      brotliLevel: env.KEYSYNC_BROTLI_LEVEL,
      minBytes: env.KEYSYNC_COMPRESSION_MIN_BYTES,
    },
    defaultMetrics: true,
    pool: env.KEYSYNC_DB_POOL,
    trustedProxies: env.KEYSYNC_TRUSTED_PROXIES,
    proxyHeader: env.KEYSYNC_PROXY_HEADER,
    captureFile: env.KEYSYNC_SQL_CAPTURE,
  });

  const server = serve(
    { fetch: keysync.app.fetch, port: env.PORT, hostname: env.HOST, serverOptions: requestTimeouts(env.KEYSYNC_REQUEST_TIMEOUT_MS) },
    (info) => {
      const where = env.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${env.KEYSYNC_DATA_DIR}`;
      console.log(
        JSON.stringify({
          level: 'info',
          msg: `keysync listening on http://${env.HOST}:${info.port}`,
          database: where,
          auth: env.KEYSYNC_ADMIN_TOKEN ? 'tokens' : 'open (loopback only)',
        }),
      );
    },
  );

  answerClientErrors(server);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(JSON.stringify({ level: 'info', msg: `${signal}: shutting down` }));
    // Stop accepting connections; in-flight requests (writes included) run to completion.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await keysync.close({ closeDatabase: false }); // ends live feeds cleanly
    // Connections left idle (keep-alive, ended feeds) would otherwise hold the exit for the keep-alive timeout.
    if ('closeIdleConnections' in server) server.closeIdleConnections();
    const force = setTimeout(() => {
      if ('closeAllConnections' in server) server.closeAllConnections();
    }, 10_000);
    force.unref();
    await closed;
    await keysync.database.close();
    release?.();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/**
 * A client that trickles its headers or body (slowloris) holds a socket and
 * a request; node drops it with 408 once the whole request has not arrived
 * within the timeout. Responses (live feeds) are not limited by this.
 */
function requestTimeouts(ms: number) {
  return {
    requestTimeout: ms,
    headersTimeout: Math.min(ms, 10_000),
    // How often node checks those timeouts: a timeout fires up to one interval late, so at
    // most a second (its default, 30 s, and ms / 4 let a 60 s timeout run to 75 s).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(ms / 4))),
  };
}

void main().catch((err) => fail(String((err as Error)?.message ?? err)));
