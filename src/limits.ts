/**
 * The limits and sizes the app runs with: batches, bodies, queues, quotas.
 * index.ts reads them from the environment (env.ts, limitsFrom); an app
 * built with createKeysync may pass its own.
 */
import { limitsFrom, readEnv } from './env.js';

/** Settings the app needs; each is a KEYSYNC_* variable (env.ts, docs/API.md). */
export interface Limits {
  batchSize: number;
  batchWindow: number;
  /** the most keys per batch a client may ask for */
  maxBatchSize: number;
  /** a batch closes once its values reach this many bytes (it always holds at least one key) */
  batchBytes: number;
  batchTimeoutMs: number;
  heartbeatMs: number;
  maxValueBytes: number;
  maxBodyBytes: number;
  maxBulkOps: number;
  maxHaveKeys: number;
  /** arrays and objects a JSON value, config or options object may nest (bodies: plus their envelope) */
  maxJsonDepth: number;
  /** request body bytes all handshakes in progress may hold together (a parsed `have` map costs a few times its text) */
  handshakeBytes: number;
  subscriberQueue: number;
  /** bytes of frames a live subscriber may have waiting (queued, or written and not taken by the client) before it is cut */
  subscriberQueueBytes: number;
  /** bytes of values one read of the change log holds (backlog pages, tailer reads); a larger single value is read alone */
  feedPageBytes: number;
  /** bytes of store digests kept for digest requests at the same store state (digest-folds.ts); 0 keeps none */
  digestCacheBytes: number;
  tombstoneRetentionMs: number;
  /** requests per second per token and client address (token bucket refill); 0 disables */
  rateLimit: number;
  /** bucket size: requests a client may send at once before the rate applies */
  rateBurst: number;
  /** requests with an unknown token per second per client address (burst 5x); 0 disables */
  authFailureLimit: number;
  /** open (not done, not expired) sync sessions per store */
  maxSessionsPerStore: number;
  /** open sync sessions per token and client address, counted in this process */
  maxSessionsPerClient: number;
  /** live feeds of this process */
  maxSubscribers: number;
  maxSubscribersPerStore: number;
  /** live feeds per token and client address */
  maxSubscribersPerClient: number;
}

/** The limits of an environment that sets none of them: each variable's default. */
export const DEFAULT_LIMITS: Limits = limitsFrom(readEnv({}));
