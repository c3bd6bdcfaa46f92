/**
 * createKeysync: the server as a library. Opens the database (PostgreSQL or
 * embedded PGlite), applies migrations, starts the live hub and the
 * housekeeping job, and builds the HTTP app. index.ts only adds the
 * environment, the listening socket and signals.
 */
import { createApp, type CreateAppOptions } from './app.js';
import { openDatabase, type Database } from './db/client.js';
import { EmbeddedSettle } from './db/embedded-settle.js';
import { maintainEmbedded } from './db/embedded-vacuum.js';
import { analyzeEntries, inspectStore, StoreStatistics } from './db/store-statistics.js';
import { migrate } from './db/migrate.js';
import type { PgliteTemplate } from './db/template.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { clientAddressResolver, type ProxyHeader } from './http/client-address.js';
import type { App } from './http/app-env.js';
import { RateLimits } from './http/rate-limit.js';
import { Admission } from './live/admission.js';
import { LiveHub } from './live/hub.js';
import { createMetrics } from './metrics.js';
import type { CompileLimits, PolicyFunctions } from './options/index.js';
import { dropIdleSessions, purgeTombstones } from './store/purge.js';
import { DigestFolds } from './sync/digest-folds.js';
import { PolicyRegistry } from './sync/policy-registry.js';

export interface KeysyncOptions extends CreateAppOptions {
  /** postgres:// URL; without it, PGlite in `dataDir` (in memory when dataDir is also unset) */
  databaseUrl?: string;
  dataDir?: string;
  /** PGlite only: a new data folder starts from this dump or dump file (see db/template.ts) */
  pgliteTemplate?: PgliteTemplate;
  /** an already opened database (tests share one per file) */
  database?: Database;
  adminToken?: string;
  limits?: Partial<Limits>;
  /** how often tombstones are purged, idle sessions dropped and (embedded database) tables vacuumed (ms); 0 disables the job */
  housekeepingMs?: number;
  /** library form of the sync options, per store id: filter(key, value), sortKey(key), walk(read, roots) */
  policies?: Record<string, PolicyFunctions>;
  /** budget of the built-in walk (keys, value nodes, depth, time; see docs/options.md); past it a handshake answers 422 walk-failed */
  walkLimits?: CompileLimits;
  /** process-wide metrics (GC, memory) on /metrics */
  defaultMetrics?: boolean;
  /** PostgreSQL pool size (KEYSYNC_DB_POOL); at least 2: migrations and housekeeping hold a lock on a connection of their own */
  pool?: number;
  /** PostgreSQL only: append every statement to this file (KEYSYNC_SQL_CAPTURE; tests) */
  captureFile?: string;
  /** proxies whose Forwarded / X-Forwarded-For header names the client (KEYSYNC_TRUSTED_PROXIES) */
  trustedProxies?: string[];
  /** which of the two headers they write (KEYSYNC_PROXY_HEADER; default x-forwarded-for) */
  proxyHeader?: ProxyHeader;
}

export interface Keysync {
  app: App;
  database: Database;
  hub: LiveHub;
  limits: Limits;
  /** one housekeeping pass now (tests and operators); `skipped` when another instance is running one */
  housekeeping(): Promise<HousekeepingResult>;
  /** stop accepting feeds, end them cleanly, stop timers; `closeDatabase` also closes the database */
  close(opts?: { closeDatabase?: boolean }): Promise<void>;
}

export interface HousekeepingResult {
  purged: number;
  sessionsDropped: number;
  /** embedded database: the tables vacuumed or analyzed (embedded-vacuum.ts) */
  maintained?: Array<{ table: string; did: 'vacuum' | 'analyze' }>;
  skipped?: true;
}

export async function createKeysync(options: KeysyncOptions = {}): Promise<Keysync> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (options.adminToken !== undefined && !/^[\x21-\x7e]{16,4096}$/.test(options.adminToken)) {
    throw new TypeError('adminToken must be 16 to 4096 printable ASCII characters without spaces (it is sent as "Authorization: Bearer <token>")');
  }
  const database =
    options.database ??
    (await openDatabase({
      databaseUrl: options.databaseUrl,
      dataDir: options.dataDir,
      maxConnections: options.pool,
      captureFile: options.captureFile,
      pgliteTemplate: options.pgliteTemplate,
    }));
  await migrate(database);

  let accepting = true;
  const policies = new PolicyRegistry(options.policies, options.walkLimits);
  let hub: LiveHub | undefined;
  const metrics = createMetrics(
    { liveSubscribers: () => hub?.stats().subscribers ?? 0, listening: () => hub?.listening() ?? false, poolStats: () => database.poolStats() },
    options.defaultMetrics ?? false,
  );
  hub = new LiveHub(database, {
    queueLimit: limits.subscriberQueue,
    queueBytes: limits.subscriberQueueBytes,
    pageBytes: limits.feedPageBytes,
    tickMs: Math.min(limits.heartbeatMs, 5000),
    heartbeatMs: limits.heartbeatMs,
    onError: (err) => console.error(JSON.stringify({ level: 'warn', msg: 'live tailer read failed', error: String(err) })),
    onOptionsChanged: (storeId) => policies.forget(storeId),
    observer: {
      notice: (kind) => metrics.notices.inc({ kind }),
      tailerError: () => metrics.tailerErrors.inc(),
      notifyError: () => metrics.noticeSendErrors.inc(),
      delivered: (rows) => {
        const nowUs = Date.now() * 1000;
        for (const row of rows) metrics.deliveryLag.observe(Math.max(0, nowUs - row.tsUs) / 1e6);
      },
    },
  });
  await hub.start();
  const live = hub;
  const statistics = new StoreStatistics({
    analyze: () => analyzeEntries(database),
    inspect: (storeId) => inspectStore(database, storeId),
    onWrites: database.kind === 'postgres',
    onError: (err) => console.error(JSON.stringify({ level: 'warn', msg: 'ANALYZE of entries failed', error: String(err) })),
  });
  const digestFolds = new DigestFolds(limits.digestCacheBytes, { onFold: (outcome) => metrics.digestFolds.inc({ outcome }) });
  const app = createApp(
    {
      database,
      hub: live,
      limits,
      adminToken: options.adminToken,
      policies,
      metrics,
      clientAddress: clientAddressResolver({ trustedProxies: options.trustedProxies ?? [], header: options.proxyHeader ?? 'x-forwarded-for' }),
      rateLimits: new RateLimits(limits),
      admission: new Admission(limits),
      accepting: () => accepting,
      statistics,
      settle:
        database.kind === 'pglite'
          ? new EmbeddedSettle(database, (err) => console.error(JSON.stringify({ level: 'warn', msg: 'VACUUM of entries failed', error: String(err) })))
          : undefined,
      digestFolds,
    },
    { log: options.log, corsOrigins: options.corsOrigins, allowedHosts: options.allowedHosts, compression: options.compression },
  );

  // The embedded database's first pass catches up on what the last process left unvacuumed (embedded-vacuum.ts).
  let caughtUp = false;
  // One instance at a time (a cluster-wide try-lock): the others skip their turn.
  const housekeeping = async (): Promise<HousekeepingResult> => {
    try {
      const done = await database.tryLock('housekeeping', async () => {
        const purged = await purgeTombstones(database.db, limits.tombstoneRetentionMs);
        // Expired sessions answer 410 for a while before they are dropped (then 404).
        const sessions = await dropIdleSessions(database.db, Math.max(limits.batchTimeoutMs * 10, 600_000));
        // The embedded database has no autovacuum of its own (embedded-vacuum.ts).
        const maintained = database.kind === 'pglite' ? await maintainEmbedded(database, { catchUp: !caughtUp }) : [];
        caughtUp = true;
        return { purged, sessionsDropped: sessions.dropped, expired: sessions.expired, maintained };
      });
      metrics.purgeRuns.inc({ result: done ? 'ran' : 'skipped' });
      if (!done) return { purged: 0, sessionsDropped: 0, skipped: true };
      metrics.purgedTombstones.inc(done.purged);
      metrics.sessionOutcomes.inc({ outcome: 'expired' }, done.expired);
      return { purged: done.purged, sessionsDropped: done.sessionsDropped, maintained: done.maintained };
    } catch (err) {
      metrics.purgeRuns.inc({ result: 'failed' });
      throw err;
    }
  };
  const every = options.housekeepingMs ?? 60_000;
  // The pass running on the timer, which close() lets finish before it closes the database.
  let running: Promise<unknown> = Promise.resolve();
  const runHousekeeping = () => {
    running = housekeeping().catch((err) => console.error(JSON.stringify({ level: 'warn', msg: 'housekeeping failed', error: String(err) })));
  };
  const timer = every > 0 ? setInterval(runHousekeeping, every) : undefined;
  timer?.unref();
  // The embedded database's first pass runs at start: replicas reconnecting after a restart find the
  // last process's load vacuumed (its pass waits for requests already in line and holds later ones up).
  const firstPass = every > 0 && database.kind === 'pglite' ? setTimeout(runHousekeeping, 0) : undefined;
  firstPass?.unref();

  return {
    app,
    database,
    hub: live,
    limits,
    housekeeping,
    async close({ closeDatabase = true } = {}) {
      accepting = false;
      if (timer) clearInterval(timer);
      if (firstPass) clearTimeout(firstPass);
      await running;
      await statistics.close();
      digestFolds.close();
      await live.close();
      if (closeDatabase && !options.database) await database.close();
    },
  };
}
