/**
 * The only reader of `process.env`. Every setting is validated here so a bad
 * value stops start-up with one line naming the variable, instead of failing
 * later in a request.
 */
import { compile } from 'proxy-addr';
import { z } from 'zod';
import { isLoopbackName } from '@keysync/protocol';
import { PgMemorySize } from './db/pglite-settings.js';
import type { Limits } from './limits.js';
import {
  DEFAULT_MAX_WALK_DEPTH,
  DEFAULT_MAX_WALK_KEYS,
  DEFAULT_MAX_WALK_STEPS,
  DEFAULT_MAX_WALK_VALUE_STEPS,
  DEFAULT_WALK_TIMEOUT_MS,
  type CompileLimits,
} from './options/index.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `7d`, `12h`, `30m`, `45s`, `500ms` or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration like 7d, 12h, 30m, 45s or 500ms' });
    return z.NEVER;
  }
  return ms;
});

/** `https://app.example, http://localhost:3000` (or `*`): exact origins, no paths. */
const corsOrigins = z.string().transform((text, ctx) => {
  const origins = text
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const origin of origins) {
    let ok = origin === '*';
    try {
      ok ||= new URL(origin).origin === origin;
    } catch {
      /* not a URL */
    }
    if (!ok) {
      ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://app.example.com (scheme, host, optional port; no path)` });
      return z.NEVER;
    }
  }
  return origins;
});

/** `10.0.0.0/8, 192.168.1.7, ::1`: addresses or CIDR ranges (each checked by proxy-addr, which matches them later). */
const proxyList = z.string().transform((text, ctx) => {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of entries) {
    try {
      compile(entry);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not an IP address or CIDR range like 10.0.0.0/8` });
      return z.NEVER;
    }
  }
  return entries;
});

/** `keysync.internal, dev-box`: Host names (no port) open mode serves besides the loopback ones. */
const allowedHosts = z.string().transform((text, ctx) => {
  const names = text
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  for (const name of names) {
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(name)) {
      ctx.addIssue({ code: 'custom', message: `"${name}" is not a host name like dev-box.local (no scheme, no port)` });
      return z.NEVER;
    }
  }
  return names;
});

const EnvSchema = z.object({
  PORT: int(0, 65535).default(8787),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  KEYSYNC_DATA_DIR: z.string().min(1).default('./.keysync'),
  // Read by the embedded database itself (src/db/pglite-settings.ts); listed here so a bad value stops the start.
  KEYSYNC_PGLITE_SHARED_BUFFERS: PgMemorySize.optional(),
  KEYSYNC_ADMIN_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .max(4096, 'must be at most 4096 characters')
    // What `Authorization: Bearer <token>` can carry: visible ASCII, no spaces.
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (it is sent as "Authorization: Bearer <token>")')
    .optional(),
  KEYSYNC_BATCH_SIZE: int(1, 10_000).default(100),
  // Batches a client may fetch ahead of its acks. Above 1 the server reads the
  // next batch while the client applies the last, so neither side waits on
  // the other; a session then holds at most window x KEYSYNC_BATCH_BYTES of
  // batches in flight, on each side.
  KEYSYNC_BATCH_WINDOW: int(1, 1000).default(4),
  // Largest batchSize a client may ask for. KEYSYNC_BATCH_BYTES bounds a batch's
  // memory whatever its key count, so the default lets small values travel in
  // few round trips (default 10,000, or KEYSYNC_BATCH_SIZE when larger).
  KEYSYNC_MAX_BATCH_SIZE: int(1, 100_000).optional(),
  KEYSYNC_BATCH_BYTES: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  KEYSYNC_BATCH_TIMEOUT_MS: int(100).default(30_000),
  KEYSYNC_HEARTBEAT_MS: int(10).default(15_000),
  KEYSYNC_MAX_VALUE_BYTES: int(1, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
  KEYSYNC_MAX_BODY_BYTES: int(1, 1024 * 1024 * 1024).optional(),
  KEYSYNC_MAX_BULK_OPS: int(1, 100_000).default(1000),
  KEYSYNC_MAX_HAVE_KEYS: int(1, 100_000_000).default(1_000_000),
  // Nesting of JSON values, configs and options; capped where the server's own recursive code stays safe.
  KEYSYNC_MAX_JSON_DEPTH: int(1, 1000).default(256),
  KEYSYNC_HANDSHAKE_BYTES: int(1024, Number.MAX_SAFE_INTEGER).default(256 * 1024 * 1024),
  KEYSYNC_SUBSCRIBER_QUEUE: int(1).default(10_000),
  KEYSYNC_SUBSCRIBER_QUEUE_BYTES: int(1024, 1024 * 1024 * 1024).default(16 * 1024 * 1024),
  KEYSYNC_FEED_PAGE_BYTES: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  // Two folds of the most buckets (262,144: 2 MiB each) and many smaller ones.
  KEYSYNC_DIGEST_CACHE_BYTES: int(0, 1024 * 1024 * 1024).default(16 * 1024 * 1024),
  KEYSYNC_TOMBSTONE_RETENTION: duration.default(parseDuration('7d')!),
  KEYSYNC_PURGE_INTERVAL_MS: int(10).default(60_000),
  KEYSYNC_LOG: z.enum(['off', 'info']).default('info'),
  // Response compression (docs/API.md, Compression).
  KEYSYNC_COMPRESSION: z.enum(['on', 'off']).default('on'),
  KEYSYNC_GZIP_LEVEL: int(1, 9).default(1),
  KEYSYNC_BROTLI_LEVEL: int(0, 11).default(1),
  KEYSYNC_COMPRESSION_MIN_BYTES: int(0).default(1024),
  // Access control and abuse limits (docs/security.md has the table).
  KEYSYNC_CORS_ORIGINS: corsOrigins.default([]),
  KEYSYNC_ALLOWED_HOSTS: allowedHosts.default([]),
  KEYSYNC_RATE_LIMIT: int(0, 1_000_000).default(200),
  KEYSYNC_RATE_BURST: int(1, 10_000_000).default(400),
  KEYSYNC_AUTH_FAILURE_LIMIT: int(0, 1_000_000).default(20),
  KEYSYNC_MAX_SESSIONS_PER_STORE: int(1, 1_000_000).default(500),
  KEYSYNC_MAX_SESSIONS_PER_CLIENT: int(1, 1_000_000).default(16),
  KEYSYNC_MAX_SUBSCRIBERS: int(1, 1_000_000).default(5000),
  KEYSYNC_MAX_SUBSCRIBERS_PER_STORE: int(1, 1_000_000).default(2000),
  KEYSYNC_MAX_SUBSCRIBERS_PER_CLIENT: int(1, 1_000_000).default(32),
  KEYSYNC_REQUEST_TIMEOUT_MS: int(100, 3_600_000).default(60_000),
  // Several instances (docs/deploy.md).
  // PostgreSQL connections per instance; at least 2 (migrations and housekeeping hold a lock on one of their own).
  KEYSYNC_DB_POOL: int(2, 1000).default(10),
  KEYSYNC_TRUSTED_PROXIES: proxyList.default([]),
  KEYSYNC_PROXY_HEADER: z.enum(['x-forwarded-for', 'forwarded']).default('x-forwarded-for'),
  // Tests: every statement sent to PostgreSQL is appended to this file.
  KEYSYNC_SQL_CAPTURE: z.string().min(1).optional(),
  // Budget of one walk (options.walk); docs/options.md and docs/security.md.
  KEYSYNC_WALK_MAX_KEYS: int(1, 100_000_000).default(DEFAULT_MAX_WALK_KEYS),
  KEYSYNC_WALK_MAX_STEPS: int(1, Number.MAX_SAFE_INTEGER).default(DEFAULT_MAX_WALK_STEPS),
  KEYSYNC_WALK_MAX_VALUE_STEPS: int(1, Number.MAX_SAFE_INTEGER).default(DEFAULT_MAX_WALK_VALUE_STEPS),
  KEYSYNC_WALK_MAX_DEPTH: int(1, 1_000_000).default(DEFAULT_MAX_WALK_DEPTH),
  KEYSYNC_WALK_TIMEOUT_MS: int(1, 3_600_000).default(DEFAULT_WALK_TIMEOUT_MS),
});

export type Env = z.output<typeof EnvSchema>;

/** The app's limits from the environment (limits.ts has what each means). */
export function limitsFrom(env: Env): Limits {
  return {
    batchSize: env.KEYSYNC_BATCH_SIZE,
    batchWindow: env.KEYSYNC_BATCH_WINDOW,
    maxBatchSize: env.KEYSYNC_MAX_BATCH_SIZE ?? Math.max(10_000, env.KEYSYNC_BATCH_SIZE),
    batchBytes: env.KEYSYNC_BATCH_BYTES,
    batchTimeoutMs: env.KEYSYNC_BATCH_TIMEOUT_MS,
    heartbeatMs: env.KEYSYNC_HEARTBEAT_MS,
    maxValueBytes: env.KEYSYNC_MAX_VALUE_BYTES,
    // A bulk write carries many values; by default allow four values' worth.
    maxBodyBytes: env.KEYSYNC_MAX_BODY_BYTES ?? Math.max(env.KEYSYNC_MAX_VALUE_BYTES * 4, 1024 * 1024),
    maxBulkOps: env.KEYSYNC_MAX_BULK_OPS,
    maxHaveKeys: env.KEYSYNC_MAX_HAVE_KEYS,
    maxJsonDepth: env.KEYSYNC_MAX_JSON_DEPTH,
    handshakeBytes: env.KEYSYNC_HANDSHAKE_BYTES,
    subscriberQueue: env.KEYSYNC_SUBSCRIBER_QUEUE,
    subscriberQueueBytes: env.KEYSYNC_SUBSCRIBER_QUEUE_BYTES,
    feedPageBytes: env.KEYSYNC_FEED_PAGE_BYTES,
    digestCacheBytes: env.KEYSYNC_DIGEST_CACHE_BYTES,
    tombstoneRetentionMs: env.KEYSYNC_TOMBSTONE_RETENTION,
    rateLimit: env.KEYSYNC_RATE_LIMIT,
    rateBurst: env.KEYSYNC_RATE_BURST,
    authFailureLimit: env.KEYSYNC_AUTH_FAILURE_LIMIT,
    maxSessionsPerStore: env.KEYSYNC_MAX_SESSIONS_PER_STORE,
    maxSessionsPerClient: env.KEYSYNC_MAX_SESSIONS_PER_CLIENT,
    maxSubscribers: env.KEYSYNC_MAX_SUBSCRIBERS,
    maxSubscribersPerStore: env.KEYSYNC_MAX_SUBSCRIBERS_PER_STORE,
    maxSubscribersPerClient: env.KEYSYNC_MAX_SUBSCRIBERS_PER_CLIENT,
  };
}

/** The walk budget (createKeysync's `walkLimits`) from the environment. */
export function walkLimitsFrom(env: Env): CompileLimits {
  return {
    maxWalkKeys: env.KEYSYNC_WALK_MAX_KEYS,
    maxWalkSteps: env.KEYSYNC_WALK_MAX_STEPS,
    maxWalkValueSteps: env.KEYSYNC_WALK_MAX_VALUE_STEPS,
    maxWalkDepth: env.KEYSYNC_WALK_MAX_DEPTH,
    walkTimeoutMs: env.KEYSYNC_WALK_TIMEOUT_MS,
  };
}

/** Reads and validates the environment; throws an Error whose message is one line. */
export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const present = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid configuration: ${issue.path.join('.')} ${issue.message}`);
  }
  return parsed.data;
}

/** A listen address on loopback: a loopback name, or `::1` as HOST writes it (no brackets). */
export function isLoopback(host: string): boolean {
  return isLoopbackName(host) || host === '::1';
}
