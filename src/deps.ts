/** What the HTTP layer needs from the rest of the server; built by createKeysync, passed to every route module. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Database } from './db/client.js';
import type { Limits } from './env.js';
import type { LiveHub } from './live/hub.js';
import type { AddressOf } from './http/client-address.js';
import type { Guard } from './http/guard.js';
import type { Admission } from './live/admission.js';
import type { Metrics } from './metrics.js';
import type { PolicyRegistry } from './sync/policies.js';

export interface AppDeps {
  database: Database;
  hub: LiveHub;
  limits: Limits;
  adminToken: string | undefined;
  policies: PolicyRegistry;
  metrics: Metrics;
  /** per-client rate limits (this process) */
  guard: Guard;
  /** the client's address from the peer and, behind trusted proxies, their header */
  clientAddress: AddressOf;
  /** live feed slots: per client, per store, per server */
  admission: Admission;
  /** false while shutting down: readiness fails and new live feeds are refused */
  accepting: () => boolean;
}

export type App = OpenAPIHono;
