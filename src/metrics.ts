/** Prometheus metrics of one app instance (its own registry, so tests can build many apps). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(liveSubscribers: () => number, defaults = false) {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'keysync_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'keysync_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern (live feeds count until headers are sent)',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    writes: new Counter({ name: 'keysync_writes_total', help: 'Keys written (puts and deletes)', registers: [registry] }),
    syncSessions: new Counter({ name: 'keysync_sync_sessions_total', help: 'Sync sessions started', registers: [registry] }),
    batches: new Counter({ name: 'keysync_sync_batches_total', help: 'Sync batches served', registers: [registry] }),
    events: new Counter({ name: 'keysync_live_events_total', help: 'Live events sent to subscribers', registers: [registry] }),
    subscribers: new Gauge({
      name: 'keysync_live_subscribers',
      help: 'Open live feeds in this process',
      registers: [registry],
      collect() {
        this.set(liveSubscribers());
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
