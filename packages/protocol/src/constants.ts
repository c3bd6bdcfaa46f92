/**
 * Every protocol string of the keysync HTTP contract (API.md) in one place.
 *
 * Server, client and tests all import it (as `@keysync/protocol`), so a
 * renamed header or event cannot drift between the two sides. Keep it free of
 * imports and of anything runtime-specific (no Node, no DOM): plain constants
 * and pure functions only.
 */

/** Version prefix of every API route. */
export const API_PREFIX = '/v1';

/**
 * UUIDv5 namespace of store ids (API.md, "Data model"). Changing it changes
 * every store id in existence.
 */
export const STORE_ID_NAMESPACE = '6f1c2a4e-9a57-4f0e-8a51-1d3b5c7e9f20';

/** Header names, in the canonical casing used in docs (HTTP is case-insensitive). */
export const HEADERS = {
  accept: 'Accept',
  acceptEncoding: 'Accept-Encoding',
  authorization: 'Authorization',
  contentType: 'Content-Type',
  cacheControl: 'Cache-Control',
  etag: 'ETag',
  ifMatch: 'If-Match',
  ifNoneMatch: 'If-None-Match',
  lastEventId: 'Last-Event-ID',
  retryAfter: 'Retry-After',
  /** Set on SSE responses so nginx-style proxies do not buffer the stream. */
  accelBuffering: 'X-Accel-Buffering',
  /** Rev and ts of the value returned by `GET .../keys/{key}`. */
  rev: 'X-Keysync-Rev',
  ts: 'X-Keysync-Ts',
} as const;

export const MEDIA_TYPES = {
  json: 'application/json',
  problem: 'application/problem+json',
  eventStream: 'text/event-stream',
} as const;

/** SSE `event:` names of the live feed. */
export const EVENTS = {
  put: 'put',
  delete: 'delete',
  /** Backlog after `since` sent; the feed is live. Data: `{headRev}`. */
  ready: 'ready',
  /** `since` is purged or ahead of the head: handshake again with `have`. */
  reset: 'reset',
  /** The store was unregistered; the stream closes. */
  storeDeleted: 'store-deleted',
  /** The token that opened the feed was revoked; the stream closes (reconnecting gets 401). */
  revoked: 'revoked',
} as const;

export type EventName = (typeof EVENTS)[keyof typeof EVENTS];

/** The heartbeat comment text (`: ping`), followed by an `id:` line. */
export const HEARTBEAT_COMMENT = 'ping';

/** Every problem `type` is this base followed by a kind. */
export const PROBLEM_TYPE_BASE = 'https://keysync.dev/problems/';

/** Problem kinds: the suffix of a problem `type` URI. */
export const PROBLEMS = {
  /** 400: body or parameters failed validation; `errors` lists them. */
  validation: 'validation',
  /** 400: body is not parseable (malformed JSON, not UTF-8, ...). */
  badRequest: 'bad-request',
  /** 400: a JSON body nests deeper than the server's limit (KEYSYNC_MAX_JSON_DEPTH, named in `detail`). */
  jsonTooDeep: 'json-too-deep',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  notFound: 'not-found',
  methodNotAllowed: 'method-not-allowed',
  /** 409: a batch fetched while `window` earlier batches are unacknowledged. */
  ackRequired: 'ack-required',
  /** 409: ack of a cursor that has not been delivered yet. */
  notDelivered: 'not-delivered',
  /** 409: `since` is older than the highest purged tombstone rev. */
  sincePurged: 'since-purged',
  /** 409: `since` is newer than the store's head (server restored from backup). */
  sinceAhead: 'since-ahead',
  /**
   * 409: digests the store cannot use: its options decide per value (walk or
   * value filter), or they changed between the digests and the handshake;
   * handshake with the whole `have` map.
   */
  digestsUnusable: 'digests-unusable',
  /** 410: the sync session timed out; handshake again. */
  sessionExpired: 'session-expired',
  /** 412: `If-Match` / `If-None-Match` did not hold. */
  preconditionFailed: 'precondition-failed',
  /**
   * 422: the store's `walk` option could not be evaluated on its data (more
   * keys than the walk limit, or a value the ref paths cannot be evaluated
   * on); fix the store's options or data, retrying does not help.
   */
  walkFailed: 'walk-failed',
  payloadTooLarge: 'payload-too-large',
  unsupportedMediaType: 'unsupported-media-type',
  /** 429: request rate of this token (per client address) exceeded; honour `Retry-After`. */
  tooManyRequests: 'too-many-requests',
  /** 429: too many open sync sessions for this store or this client; honour `Retry-After`. */
  tooManySessions: 'too-many-sessions',
  /** 429 (this store or this client) / 503 (this server): too many live feeds; honour `Retry-After`. */
  tooManySubscribers: 'too-many-subscribers',
  /** 408: the request (headers or body) did not arrive within KEYSYNC_REQUEST_TIMEOUT_MS; the connection closes. */
  requestTimeout: 'request-timeout',
  /** 431: the request line and headers exceed the server's limit (16 KiB). */
  headersTooLarge: 'headers-too-large',
  internal: 'internal',
  unavailable: 'unavailable',
} as const;

export type ProblemKind = (typeof PROBLEMS)[keyof typeof PROBLEMS];

/**
 * The full problem `type` URI of a kind.
 * @example problemType('since-purged') // 'https://keysync.dev/problems/since-purged'
 */
export function problemType(kind: ProblemKind): string {
  return PROBLEM_TYPE_BASE + kind;
}

/**
 * The kind (URI suffix) of a problem `type`, or undefined when the type is not
 * a keysync problem (e.g. `about:blank` from a proxy).
 * @example problemKind('https://keysync.dev/problems/ack-required') // 'ack-required'
 */
export function problemKind(type: string | undefined | null): string | undefined {
  if (typeof type !== 'string' || !type.startsWith(PROBLEM_TYPE_BASE)) return undefined;
  const kind = type.slice(PROBLEM_TYPE_BASE.length);
  return kind === '' ? undefined : kind;
}
