import { ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { ApiServices } from '../api-services.js';
import type { App } from '../http/app-env.js';
import { callerOf, clientKey } from '../http/caller.js';
import { ProblemError } from '../http/problem.js';
import { FEED_TOKEN_DEFAULT_TTL_S } from '../http/feed-token.js';
import { SSE_HEADERS, runOnNodeResponse, sseBody } from '../http/sse-response.js';
import { feedAccess } from '../live/feed-access.js';
import { runFeed, type FeedSink } from '../live/feed.js';
import { feedStore } from '../store/feed-reads.js';
import { createFeedTokenRoute, eventsRoute } from './events.routes.js';

export function registerEventHandlers(app: App, services: ApiServices): void {
  const { db } = services.database;

  app.openapi(createFeedTokenRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const ttl = (c.req.valid('json') as { ttlSeconds?: number } | undefined)?.ttlSeconds ?? FEED_TOKEN_DEFAULT_TTL_S;
    await feedStore(db, storeId);
    return c.json(services.feedTokens.mint(storeId, callerOf(c), ttl), 201);
  });

  app.openapi(eventsRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const { since, prefix } = c.req.valid('query');
    const lastEventId = c.req.valid('header')['last-event-id'];
    if (!services.accepting()) {
      throw new ProblemError(503, 'unavailable', 'Service Unavailable', 'The server is shutting down; reconnect', undefined, { 'retry-after': '1' });
    }
    // The store row with its heads: 404 before the stream starts, and the feed opens from these heads.
    const store = await feedStore(db, storeId);
    const policy = services.policies.policyFor(storeId, store.options);
    // Slots (per client, store, server) are taken before the stream starts and freed however it ends.
    const release = services.admission.admit(storeId, clientKey(c));
    const access = feedAccess(db, callerOf(c));
    const feed = {
      storeId,
      since: lastEventId !== undefined ? Number(lastEventId) : since,
      prefix,
      includesKey: policy.includesKey,
      ...(policy.includesValue ? { includesValue: policy.includesValue } : {}),
      ...access,
      heads: { headRev: store.headRev, purgedRev: store.purgedRev },
      optionsVersion: store.optionsVersion,
    };
    services.metrics.feedsOpened.inc();
    const run = (sink: FeedSink) =>
      runFeed(db, services.hub, feed, sink, (n) => services.metrics.events.inc(n))
        .then(
          (reason) => services.metrics.feedsEnded.inc({ reason }),
          (err: unknown) => {
            services.metrics.feedsEnded.inc({ reason: 'error' });
            throw err;
          },
        )
        .finally(release);
    // `c.env` is undefined for a request made in process (app.request without bindings).
    const outgoing = c.env?.outgoing;
    if (!(outgoing instanceof ServerResponse)) return c.body(sseBody(run), 200, SSE_HEADERS);
    // On node-server the feed owns the raw response (see http/sse-response). Its head carries
    // what the middleware set so far (CORS); `c.res` is then replaced without a copy (Hono would
    // copy it into a Response that node-server answers itself) by node-server's marker for a
    // response already sent. No middleware touches the response after the handler (see http/cors).
    const headers = c.res.headers;
    c.res = undefined;
    c.res = RESPONSE_ALREADY_SENT;
    runOnNodeResponse(outgoing, headers, run);
    return c.res;
  });
}
