/** Prometheus metrics of one app instance (its own registry, so tests can build many apps). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from './db/client.js';

export interface MetricSources {
  liveSubscribers: () => number;
  /** true while this instance's LISTEN connection hears its own pings */
  listening: () => boolean;
  /** the pool as PostgreSQL sees it (undefined on PGlite) */
  poolStats: () => Promise<PoolStats | undefined>;
}

export function createMetrics(sources: MetricSources, defaults = false) {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'keysync_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    duration: new Histogram({
      name: 'keysync_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern (live feeds count until headers are sent)',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    refusals: new Counter({
      name: 'keysync_refusals_total',
      help: 'Requests refused with 429 or 503, by status and by the limit (setting) or cause that refused them',
      labelNames: ['status', 'limit'],
      registers,
    }),
    writes: new Counter({ name: 'keysync_writes_total', help: 'Keys written (puts and deletes)', registers }),
    syncSessions: new Counter({ name: 'keysync_sync_sessions_total', help: 'Sync sessions started', registers }),
    sessionOutcomes: new Counter({
      name: 'keysync_sync_sessions_ended_total',
      help: 'Sync sessions ended, by outcome: done (last batch acknowledged), cancelled, expired (dropped while unfinished)',
      labelNames: ['outcome'],
      registers,
    }),
    batches: new Counter({ name: 'keysync_sync_batches_total', help: 'Sync batches served', registers }),
    digestFolds: new Counter({
      name: 'keysync_digest_folds_total',
      help: "Digest requests by how the store's digests were had: folded, or reused (another request's fold of the same store state)",
      labelNames: ['outcome'],
      registers,
    }),
    events: new Counter({ name: 'keysync_live_events_total', help: 'Live events sent to subscribers', registers }),
    feedsOpened: new Counter({ name: 'keysync_live_feeds_opened_total', help: 'Live feeds opened', registers }),
    feedsEnded: new Counter({
      name: 'keysync_live_feeds_ended_total',
      help: 'Live feeds ended, by reason (client-gone, overflow, lagged, revoked, store-deleted, options-changed, reset, shutdown, error)',
      labelNames: ['reason'],
      registers,
    }),
    deliveryLag: new Histogram({
      name: 'keysync_live_delivery_lag_seconds',
      help: 'From a write (its ts) to its rows being handed to the live feeds of this instance',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    notices: new Counter({
      name: 'keysync_notices_received_total',
      help: 'Cross-instance notices heard on LISTEN, by kind (commit, deleted, revoked, options, ping)',
      labelNames: ['kind'],
      registers,
    }),
    noticeSendErrors: new Counter({ name: 'keysync_notice_send_errors_total', help: 'Notices that could not be sent', registers }),
    listenUp: new Gauge({
      name: 'keysync_listen_up',
      help: '1 while the LISTEN connection hears notices (this instance hears its own periodic ping), else 0',
      registers,
      collect() {
        this.set(sources.listening() ? 1 : 0);
      },
    }),
    tailerErrors: new Counter({ name: 'keysync_tailer_read_errors_total', help: 'Failed reads of the change log by live tailers', registers }),
    purgeRuns: new Counter({
      name: 'keysync_housekeeping_runs_total',
      help: 'Housekeeping passes, by result: ran, skipped (another instance held the lock), failed',
      labelNames: ['result'],
      registers,
    }),
    purgedTombstones: new Counter({ name: 'keysync_purged_tombstones_total', help: 'Tombstones purged', registers }),
    subscribers: new Gauge({
      name: 'keysync_live_subscribers',
      help: 'Open live feeds in this process',
      registers,
      collect() {
        this.set(sources.liveSubscribers());
      },
    }),
    pool: new Gauge({
      name: 'keysync_db_pool_connections',
      help: "This instance's database connections by state (PostgreSQL only): max (KEYSYNC_DB_POOL), open, busy (running a statement or in a transaction; from pg_stat_activity)",
      labelNames: ['state'],
      registers,
      async collect() {
        const stats = await sources.poolStats().catch(() => undefined);
        if (!stats) return;
        this.set({ state: 'max' }, stats.max);
        this.set({ state: 'open' }, stats.open);
        this.set({ state: 'busy' }, stats.busy);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
