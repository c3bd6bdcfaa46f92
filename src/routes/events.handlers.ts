import { streamSSE } from 'hono/streaming';
import type { App, AppDeps } from '../deps.js';
import { ProblemError } from '../errors.js';
import { authorize } from '../http/auth.js';
import { clientKey, principalOf } from '../http/guard.js';
import { feedAccess } from '../live/feed-access.js';
import { runFeed } from '../live/feed.js';
import { getStore } from '../store/stores.js';
import { eventsRoute } from './events.routes.js';

export function registerEventHandlers(app: App, deps: AppDeps): void {
  const { db } = deps.database;
  app.use('/v1/stores/:storeId/events', authorize({ db, adminToken: deps.adminToken, guard: deps.guard }, 'read'));

  app.openapi(eventsRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const { since, prefix } = c.req.valid('query');
    const lastEventId = c.req.valid('header')['last-event-id'];
    if (!deps.accepting()) {
      throw new ProblemError(503, 'unavailable', 'Service Unavailable', 'The server is shutting down; reconnect', undefined, { 'retry-after': '1' });
    }
    const store = await getStore(db, storeId); // 404 before the stream starts
    const policy = deps.policies.policyFor(storeId, store.options);
    c.header('X-Accel-Buffering', 'no');
    c.header('Cache-Control', 'no-cache');
    // Slots (per client, store, server) are taken before the stream starts and freed however it ends.
    const release = deps.admission.admit(storeId, clientKey(c));
    const access = feedAccess(db, principalOf(c));
    return streamSSE(c, async (stream) => {
      await runFeed(
        db,
        deps.hub,
        {
          storeId,
          since: lastEventId !== undefined ? Number(lastEventId) : since,
          prefix,
          includesKey: (key) => policy.includesKey(key),
          ...(policy.includesValue ? { includesValue: policy.includesValue } : {}),
          heartbeatMs: deps.limits.heartbeatMs,
          ...access,
        },
        {
          write: async (text) => {
            if (!stream.aborted) await stream.write(text);
          },
          onAbort: (cb) => stream.onAbort(cb),
          terminate: () => {
            // On node-server the raw response is in the bindings; destroying it frees the socket now.
            const outgoing = (c.env as { outgoing?: { destroy(): void } } | undefined)?.outgoing;
            if (outgoing) outgoing.destroy();
            stream.abort();
          },
        },
        (n) => deps.metrics.events.inc(n),
      ).finally(release);
    }) as never;
  });
}
