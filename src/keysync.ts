/**
 * createKeysync: the server as a library. Opens the database (PostgreSQL or
 * embedded PGlite), applies migrations, starts the live hub and the
 * housekeeping job, and builds the HTTP app. index.ts only adds the
 * environment, the listening socket and signals.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { createApp, type CreateAppOptions } from './app.js';
import { openDatabase, type Database } from './db/client.js';
import { migrate } from './db/migrate.js';
import { DEFAULT_LIMITS, type Limits } from './env.js';
import { Guard } from './http/guard.js';
import { Admission } from './live/admission.js';
import { LiveHub } from './live/hub.js';
import { createMetrics } from './metrics.js';
import type { CompileLimits, PolicyFunctions } from './options/index.js';
import { dropIdleSessions, purgeTombstones } from './store/purge.js';
import { PolicyRegistry } from './sync/policies.js';

export interface KeysyncOptions extends CreateAppOptions {
  /** postgres:// URL; without it, PGlite in `dataDir` (in memory when dataDir is also unset) */
  databaseUrl?: string;
  dataDir?: string;
  /** an already opened database (tests share one per file) */
  database?: Database;
  adminToken?: string;
  limits?: Partial<Limits>;
  /** how often tombstones are purged and idle sessions dropped (ms); 0 disables the job */
  housekeepingMs?: number;
  /** library form of the sync options, per store id: filter(key, value), sortKey(key), walk(read, roots) */
  policies?: Record<string, PolicyFunctions>;
  /** budget of the built-in walk (keys, value nodes, depth, time; see docs/options.md); past it a handshake answers 422 walk-failed */
  walkLimits?: CompileLimits;
  /** process-wide metrics (GC, memory) on /metrics */
  defaultMetrics?: boolean;
}

export interface Keysync {
  app: OpenAPIHono;
  database: Database;
  hub: LiveHub;
  limits: Limits;
  /** one housekeeping pass now (tests and operators) */
  housekeeping(): Promise<{ purged: number; sessionsDropped: number }>;
  /** stop accepting feeds, end them cleanly, stop timers; `closeDatabase` also closes the database */
  close(opts?: { closeDatabase?: boolean }): Promise<void>;
}

export async function createKeysync(options: KeysyncOptions = {}): Promise<Keysync> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (options.adminToken !== undefined && !/^[\x21-\x7e]{16,4096}$/.test(options.adminToken)) {
    throw new TypeError('adminToken must be 16 to 4096 printable ASCII characters without spaces (it is sent as "Authorization: Bearer <token>")');
  }
  const database = options.database ?? (await openDatabase({ databaseUrl: options.databaseUrl, dataDir: options.dataDir }));
  await migrate(database);

  let accepting = true;
  const hub = new LiveHub(database, {
    queueLimit: limits.subscriberQueue,
    queueBytes: limits.subscriberQueueBytes,
    pageBytes: limits.feedPageBytes,
    tickMs: Math.min(limits.heartbeatMs, 5000),
    heartbeatMs: limits.heartbeatMs,
    onError: (err) => console.error(JSON.stringify({ level: 'warn', msg: 'live tailer read failed', error: String(err) })),
  });
  await hub.start();
  const metrics = createMetrics(() => hub.stats().subscribers, options.defaultMetrics ?? false);
  const app = createApp(
    {
      database,
      hub,
      limits,
      adminToken: options.adminToken,
      policies: new PolicyRegistry(options.policies, options.walkLimits),
      metrics,
      guard: new Guard(limits),
      admission: new Admission(limits),
      accepting: () => accepting,
    },
    { log: options.log, corsOrigins: options.corsOrigins, allowedHosts: options.allowedHosts },
  );

  const housekeeping = async () => ({
    purged: await purgeTombstones(database.db, limits.tombstoneRetentionMs),
    // Expired sessions answer 410 for a while before they are dropped (then 404).
    sessionsDropped: await dropIdleSessions(database.db, Math.max(limits.batchTimeoutMs * 10, 600_000)),
  });
  const every = options.housekeepingMs ?? 60_000;
  const timer =
    every > 0
      ? setInterval(() => {
          housekeeping().catch((err) => console.error(JSON.stringify({ level: 'warn', msg: 'housekeeping failed', error: String(err) })));
        }, every)
      : undefined;
  timer?.unref();

  return {
    app,
    database,
    hub,
    limits,
    housekeeping,
    async close({ closeDatabase = true } = {}) {
      accepting = false;
      if (timer) clearInterval(timer);
      await hub.close();
      if (closeDatabase && !options.database) await database.close();
    },
  };
}
