import { ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { App, AppDeps } from '../deps.js';
import { ProblemError, notFound } from '../errors.js';
import { authorize } from '../http/auth.js';
import { FEED_TOKEN_DEFAULT_TTL_S, FeedTokens, feedAuth } from '../http/feed-token.js';
import { clientKey, principalOf } from '../http/guard.js';
import { SSE_HEADERS, runOnNodeResponse, sseBody } from '../http/sse-response.js';
import { feedAccess } from '../live/feed-access.js';
import { runFeed, type FeedSink } from '../live/feed.js';
import { feedStore } from '../store/feed-reads.js';
import { createFeedTokenRoute, eventsRoute } from './events.routes.js';

export function registerEventHandlers(app: App, deps: AppDeps): void {
  const { db } = deps.database;
  const auth = { db, adminToken: deps.adminToken, guard: deps.guard };
  const feedTokens = new FeedTokens(deps.adminToken);
  app.use('/v1/stores/:storeId/events', feedAuth(auth, feedTokens));
  app.use('/v1/stores/:storeId/feed-tokens', authorize(auth, 'read'));

  app.openapi(createFeedTokenRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const ttl = (c.req.valid('json') as { ttlSeconds?: number } | undefined)?.ttlSeconds ?? FEED_TOKEN_DEFAULT_TTL_S;
    if (!(await feedStore(db, storeId))) throw notFound(`store ${storeId}`);
    return c.json(feedTokens.mint(storeId, principalOf(c), ttl), 201);
  });

  app.openapi(eventsRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const { since, prefix } = c.req.valid('query');
    const lastEventId = c.req.valid('header')['last-event-id'];
    if (!deps.accepting()) {
      throw new ProblemError(503, 'unavailable', 'Service Unavailable', 'The server is shutting down; reconnect', undefined, { 'retry-after': '1' });
    }
    // The store row with its heads: 404 before the stream starts, and the feed opens from these heads.
    const optionsEpoch = deps.hub.optionsEpoch(storeId);
    const store = await feedStore(db, storeId);
    if (!store) throw notFound(`store ${storeId}`);
    const policy = deps.policies.policyFor(storeId, store.options);
    // Slots (per client, store, server) are taken before the stream starts and freed however it ends.
    const release = deps.admission.admit(storeId, clientKey(c));
    const access = feedAccess(db, principalOf(c));
    const feed = {
      storeId,
      since: lastEventId !== undefined ? Number(lastEventId) : since,
      prefix,
      includesKey: policy.includesKey,
      ...(policy.includesValue ? { includesValue: policy.includesValue } : {}),
      ...access,
      heads: { headRev: store.headRev, purgedRev: store.purgedRev },
      optionsEpoch,
    };
    deps.metrics.feedsOpened.inc();
    const run = (sink: FeedSink) =>
      runFeed(db, deps.hub, feed, sink, (n) => deps.metrics.events.inc(n))
        .then(
          (reason) => deps.metrics.feedsEnded.inc({ reason }),
          (err: unknown) => {
            deps.metrics.feedsEnded.inc({ reason: 'error' });
            throw err;
          },
        )
        .finally(release);
    const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
    if (!(outgoing instanceof ServerResponse)) return c.body(sseBody(run), 200, SSE_HEADERS) as never;
    // On node-server the feed owns the raw response (see http/sse-response). Its head carries
    // what the middleware set so far (CORS); `c.res` is then replaced without a copy (Hono would
    // copy it into a Response that node-server answers itself) by node-server's marker for a
    // response already sent. No middleware touches the response after the handler (see http/cors).
    const headers = c.res.headers;
    c.res = undefined;
    c.res = RESPONSE_ALREADY_SENT;
    runOnNodeResponse(outgoing, headers, run);
    return c.res as never;
  });
}
