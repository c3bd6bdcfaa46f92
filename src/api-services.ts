/**
 * The parts of the running server the HTTP API works with (database, live
 * hub, limits, metrics, per-process limit state). createKeysync builds them;
 * createApp hands them to every request as `c.var.services`, which is how
 * route handlers and the guards declared on routes reach them.
 */
import type { Database } from './db/client.js';
import type { EmbeddedSettle } from './db/embedded-settle.js';
import type { StoreStatistics } from './db/store-statistics.js';
import type { Limits } from './limits.js';
import type { LiveHub } from './live/hub.js';
import type { AppEnv } from './http/app-env.js';
import type { AddressOf } from './http/client-address.js';
import type { FeedTokens } from './http/feed-token.js';
import type { RateLimits } from './http/rate-limit.js';
import type { Admission } from './live/admission.js';
import type { Metrics } from './metrics.js';
import type { DigestFolds } from './sync/digest-folds.js';
import type { PolicyRegistry } from './sync/policy-registry.js';
import type { MiddlewareHandler } from 'hono';

/** What createKeysync builds for the API. */
export interface ServerParts {
  database: Database;
  hub: LiveHub;
  limits: Limits;
  adminToken: string | undefined;
  policies: PolicyRegistry;
  metrics: Metrics;
  /** per-client request rates and failed authentications (this process) */
  rateLimits: RateLimits;
  /** the client's address from the peer and, behind trusted proxies, their header */
  clientAddress: AddressOf;
  /** live feed slots: per client, per store, per server */
  admission: Admission;
  /** false while shutting down: readiness fails and new live feeds are refused */
  accepting: () => boolean;
  /** planner statistics kept fresh for stores that grow (store-statistics.ts) */
  statistics: StoreStatistics;
  /** embedded database only: stores that grow vacuumed before a handshake compares with them (embedded-settle.ts) */
  settle?: EmbeddedSettle;
  /** folds of store digests shared by the digest requests of one store state (digest-folds.ts) */
  digestFolds: DigestFolds;
}

/** ServerParts and what createApp derives from them for the routes. */
export interface ApiServices extends ServerParts {
  /** signs and reads the feed tokens of `?access_token=` */
  feedTokens: FeedTokens;
  /** reads a handshake body within the byte budget shared by the handshakes in progress */
  handshakeBody: MiddlewareHandler<AppEnv>;
}
