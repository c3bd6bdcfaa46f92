/**
 * Typed calls of every route of openapi/openapi.json, one thin method each
 * over openapi-fetch (`createClient<paths>()` on the generated schema.ts),
 * so a route change that is regenerated but not followed here is a type
 * error. Errors are values: `{data, response} | {error: Problem, response}`;
 * only network failures, aborts and contract violations throw.
 *
 * The sync path (handshake, batch, ack) also runs the wire.ts checks on what
 * it receives: generated types are not runtime validation, and a bad entry
 * must never reach the local store. `raw` is the openapi-fetch client itself,
 * for middleware or anything the methods do not expose.
 */
import { encodeBase64 } from './base64.js';
import { ProtocolError } from './errors.js';
import { createRawClient, mediaType, settle, textFetchOf, type HttpOptions, type HttpResult, type RawClient } from './http.js';
import {
  HEADERS,
  MEDIA_TYPES,
  type AckResponse,
  type BatchResponse,
  type components,
  type HandshakeRequest,
  type HandshakeResponse,
  type paths,
} from '@keysync/protocol';
import { parseAck, parseBatchBody, splitHandshakeText, type HandshakeText, type ValueParser } from './wire.js';

type S = components['schemas'];
type Query<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type Json200<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: { 200: { content: { 'application/json': infer B } } };
}
  ? B
  : never;

export interface ApiClientOptions extends HttpOptions {
  /**
   * Turns each JSON value received (`getKey`, batches; the sync client also
   * uses it for live events) from its text, exactly as the server stores it,
   * into what you hold. Default: JSON.parse, which rounds integers past 2^53
   * and long decimals. See docs/client.md, "Exact values".
   */
  parseValue?: ValueParser | undefined;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** Preconditions of a write: `ifMatch` = the rev the key must be at; `ifNoneMatch: '*'` = the key must not exist. */
export interface WriteOptions extends CallOptions {
  ifMatch?: number | undefined;
  ifNoneMatch?: '*' | undefined;
}

export interface GetKeyOptions extends CallOptions {
  /** An ETag (or rev) from an earlier read: answered `{kind: 'not-modified'}` when unchanged. */
  ifNoneMatch?: string | number | undefined;
}

/** A value read with `getKey`, with its rev and ts from the response headers. */
export type KeyValue =
  | { kind: 'json'; key: string; value: unknown; rev: number; ts: string; etag: string }
  | { kind: 'bytes'; key: string; bytes: Uint8Array; contentType: string; rev: number; ts: string; etag: string }
  | { kind: 'not-modified'; key: string; etag: string };

export interface EventsRequest extends CallOptions {
  since?: number | undefined;
  prefix?: string | undefined;
  /** Sent as `Last-Event-ID`; the server prefers it over `since`. */
  lastEventId?: string | undefined;
}

export type StoreQuery = Query<'/v1/stores', 'get'>;
export type KeyQuery = Query<'/v1/stores/{storeId}/keys', 'get'>;
export type Health = Json200<'/healthz', 'get'>;
export type Readiness = Json200<'/readyz', 'get'>;

export interface ApiClient {
  /** The openapi-fetch client on the generated paths (auth and fetch already set). */
  readonly raw: RawClient;
  /** The `parseValue` option, if one was given. */
  readonly parseValue: ValueParser | undefined;

  /** `GET /healthz` */
  health(o?: CallOptions): Promise<HttpResult<Health>>;
  /** `GET /readyz`: 503 (an error value) while the database is not ready. */
  ready(o?: CallOptions): Promise<HttpResult<Readiness>>;
  /** `GET /metrics`, Prometheus text. */
  metrics(o?: CallOptions): Promise<HttpResult<string>>;

  /** `GET /v1/stores` (admin), one page. */
  listStores(query?: StoreQuery, o?: CallOptions): Promise<HttpResult<S['StoreList']>>;
  /** `POST /v1/stores` (admin): `response.status` is 201 when new, 200 when already registered. */
  registerStore(body: S['RegisterStore'], o?: CallOptions): Promise<HttpResult<S['Store']>>;
  getStore(storeId: string, o?: CallOptions): Promise<HttpResult<S['Store']>>;
  /** `PATCH /v1/stores/{storeId}` (admin): replaces the sync options. */
  updateStore(storeId: string, body: S['PatchStore'], o?: CallOptions): Promise<HttpResult<S['Store']>>;
  deleteStore(storeId: string, o?: CallOptions): Promise<HttpResult<undefined>>;

  /** `POST /v1/stores/{storeId}/tokens` (admin): the secret is in this answer only. */
  createToken(storeId: string, body: S['CreateToken'], o?: CallOptions): Promise<HttpResult<S['NewToken']>>;
  listTokens(storeId: string, o?: CallOptions): Promise<HttpResult<S['TokenList']>>;
  revokeToken(storeId: string, tokenId: string, o?: CallOptions): Promise<HttpResult<undefined>>;
  /**
   * `POST .../feed-tokens` (read): a short-lived token for this store's live feed only, for
   * `new EventSource(\`${base}/v1/stores/${id}/events?access_token=${token}\`)` in a page.
   */
  createFeedToken(storeId: string, body?: S['CreateFeedToken'], o?: CallOptions): Promise<HttpResult<S['FeedToken']>>;

  /** `GET .../keys/{key}` (`.../key?key=` for `.` and `..`); a deleted or absent key is a 404 problem. */
  getKey(storeId: string, key: string, o?: GetKeyOptions): Promise<HttpResult<KeyValue>>;
  /** `PUT .../keys/{key}` with a JSON value (`undefined` is not JSON and throws a TypeError). */
  putKey(storeId: string, key: string, value: unknown, o?: WriteOptions): Promise<HttpResult<S['WriteResult']>>;
  /**
   * `PUT .../keys/{key}` with a JSON value given as text, stored exactly as
   * written (e.g. the output of a lossless JSON library's stringify).
   */
  putJsonText(storeId: string, key: string, text: string, o?: WriteOptions): Promise<HttpResult<S['WriteResult']>>;
  /** `PUT .../keys/{key}` with bytes; the content type is stored with them. */
  putBytes(storeId: string, key: string, bytes: Uint8Array, contentType: string, o?: WriteOptions): Promise<HttpResult<S['WriteResult']>>;
  deleteKey(storeId: string, key: string, o?: Omit<WriteOptions, 'ifNoneMatch'>): Promise<HttpResult<S['WriteResult']>>;
  /** `POST .../writes`: all ops or none, consecutive revs in op order. */
  write(storeId: string, body: S['BulkWrite'], o?: CallOptions): Promise<HttpResult<S['BulkWriteResult']>>;
  /** `GET .../keys`: one metadata page in key order; pass `next` as `after` for the following one. */
  listKeys(storeId: string, query?: KeyQuery, o?: CallOptions): Promise<HttpResult<S['KeyList']>>;

  /**
   * `body` as an object, or as its JSON text (sent as it is: a large `have`
   * map written by LocalStore.haveJson). An inline batch (`inline: true`)
   * comes parsed as `batch` does, each value through `parseValue`.
   */
  handshake(storeId: string, body: HandshakeRequest | string, o?: CallOptions): Promise<HttpResult<HandshakeResponse>>;
  /** `handshake` with an inline batch left as its text, for a caller that reads it itself (the sync loop: records.ts batchRecords). */
  handshakeText(storeId: string, body: HandshakeRequest | string, o?: CallOptions): Promise<HttpResult<HandshakeText>>;
  /** `POST .../sync/digests`: which buckets of keys differ from the replica's digests (the first step of a digest handshake). */
  digests(storeId: string, body: S['DigestRequest'], o?: CallOptions): Promise<HttpResult<S['DigestAnswer']>>;
  batch(storeId: string, sessionId: string, cursor: number, o?: CallOptions): Promise<HttpResult<BatchResponse>>;
  /** `batch`'s response as its text, for a caller that reads it itself (the sync loop: records.ts batchRecords). */
  batchText(storeId: string, sessionId: string, cursor: number, o?: CallOptions): Promise<HttpResult<string>>;
  ack(storeId: string, sessionId: string, cursor: number, o?: CallOptions): Promise<HttpResult<AckResponse>>;
  sessionStatus(storeId: string, sessionId: string, o?: CallOptions): Promise<HttpResult<S['SessionStatus']>>;
  /** `GET .../sessions` (admin): open sync sessions with their progress. */
  listSessions(storeId: string, o?: CallOptions): Promise<HttpResult<S['SessionList']>>;
  cancelSession(storeId: string, sessionId: string, o?: CallOptions): Promise<HttpResult<undefined>>;
  /** Opens the live feed; `data` is the unread `text/event-stream` body (read it with readSse). */
  events(storeId: string, req?: EventsRequest): Promise<HttpResult<ReadableStream<Uint8Array>>>;
}

/**
 * `.` and `..` as a path segment are removed by URL normalisation (fetch
 * does it), so those keys travel in the query form of the same routes.
 */
const inQuery = (key: string) => key === '.' || key === '..';

const quoted = (v: string | number) => (typeof v === 'number' ? `"${v}"` : v);

function preconditions(o: WriteOptions | undefined): { 'if-match'?: string; 'if-none-match'?: string } {
  const h: { 'if-match'?: string; 'if-none-match'?: string } = {};
  if (o?.ifMatch !== undefined) h['if-match'] = quoted(o.ifMatch);
  if (o?.ifNoneMatch !== undefined) h['if-none-match'] = o.ifNoneMatch;
  return h;
}

/** Request options for a body that is already JSON text: sent as it is, as JSON. */
const AS_JSON_TEXT = { bodySerializer: (b: unknown) => b as string, headers: { [HEADERS.contentType]: MEDIA_TYPES.json } };

/**
 * @example
 * const api = createApiClient({ baseUrl: 'http://127.0.0.1:8787', token });
 * const res = await api.putKey(id, 'users/1', { name: 'Ada' });
 * if (res.error) console.error(res.error.title); else console.log(res.data.rev);
 */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const raw = createRawClient(options);
  const textFetch = textFetchOf(options);
  const store = (storeId: string) => ({ params: { path: { storeId } } });
  const session = (storeId: string, sessionId: string) => ({ params: { path: { storeId, sessionId } } });
  const keyPath = (storeId: string, key: string) => ({ storeId, key });
  const { parseValue } = options;
  const batchPath = (storeId: string, sessionId: string, cursor: number) => ({ params: { path: { storeId, sessionId, cursor } } });

  const api: ApiClient = {
    raw,
    parseValue,
    health: (o) => settle('health', raw.GET('/healthz', { signal: o?.signal })),
    ready: (o) => settle('ready', raw.GET('/readyz', { signal: o?.signal })),
    metrics: (o) => settle('metrics', raw.GET('/metrics', { parseAs: 'text', headers: { [HEADERS.accept]: 'text/plain' }, signal: o?.signal })),

    listStores: (query, o) => settle('list stores', raw.GET('/v1/stores', { params: { query }, signal: o?.signal })),
    registerStore: (body, o) => settle('register store', raw.POST('/v1/stores', { body, signal: o?.signal })),
    getStore: (storeId, o) => settle('get store', raw.GET('/v1/stores/{storeId}', { ...store(storeId), signal: o?.signal })),
    updateStore: (storeId, body, o) => settle('update store', raw.PATCH('/v1/stores/{storeId}', { ...store(storeId), body, signal: o?.signal })),
    deleteStore: (storeId, o) => settle('delete store', raw.DELETE('/v1/stores/{storeId}', { ...store(storeId), signal: o?.signal }), () => undefined),

    createToken: (storeId, body, o) => settle('create token', raw.POST('/v1/stores/{storeId}/tokens', { ...store(storeId), body, signal: o?.signal })),
    listTokens: (storeId, o) => settle('list tokens', raw.GET('/v1/stores/{storeId}/tokens', { ...store(storeId), signal: o?.signal })),
    createFeedToken: (storeId, body, o) =>
      settle('create feed token', raw.POST('/v1/stores/{storeId}/feed-tokens', { ...store(storeId), body: body ?? {}, signal: o?.signal })),
    revokeToken: (storeId, tokenId, o) =>
      settle(
        'revoke token',
        raw.DELETE('/v1/stores/{storeId}/tokens/{tokenId}', { params: { path: { storeId, tokenId } }, signal: o?.signal }),
        () => undefined,
      ),

    async getKey(storeId, key, o) {
      const header = o?.ifNoneMatch === undefined ? {} : { 'if-none-match': quoted(o.ifNoneMatch) };
      const init = { headers: { [HEADERS.accept]: '*/*' }, parseAs: 'arrayBuffer', signal: o?.signal } as const;
      const res = await (inQuery(key)
        ? raw.GET('/v1/stores/{storeId}/key', { params: { path: { storeId }, query: { key }, header }, ...init })
        : raw.GET('/v1/stores/{storeId}/keys/{key}', { params: { path: keyPath(storeId, key), header }, ...init }));
      const etag = res.response.headers.get(HEADERS.etag) ?? '';
      if (res.response.status === 304) {
        return { data: { kind: 'not-modified', key, etag: etag || String(header['if-none-match']) }, response: res.response };
      }
      return settle('get key', Promise.resolve(res), (buf) => decodeValue(key, res.response, etag, buf, parseValue));
    },
    putKey(storeId, key, value, o) {
      if (value === undefined) throw new TypeError('putKey: undefined is not a JSON value');
      const header = preconditions(o);
      const init = { body: value, signal: o?.signal };
      return settle(
        'put key',
        inQuery(key)
          ? raw.PUT('/v1/stores/{storeId}/key', { params: { path: { storeId }, query: { key }, header }, ...init })
          : raw.PUT('/v1/stores/{storeId}/keys/{key}', { params: { path: keyPath(storeId, key), header }, ...init }),
      );
    },
    putJsonText(storeId, key, text, o) {
      const header = preconditions(o);
      const init = { body: text, ...AS_JSON_TEXT, signal: o?.signal };
      return settle(
        'put key',
        inQuery(key)
          ? raw.PUT('/v1/stores/{storeId}/key', { params: { path: { storeId }, query: { key }, header }, ...init })
          : raw.PUT('/v1/stores/{storeId}/keys/{key}', { params: { path: keyPath(storeId, key), header }, ...init }),
      );
    },
    putBytes(storeId, key, bytes, contentType, o) {
      const header = preconditions(o);
      const init = {
        // The generated type of a binary body is `string`; any BodyInit goes on the wire as is.
        body: bytes as unknown as string,
        bodySerializer: (b: unknown) => b,
        headers: { [HEADERS.contentType]: contentType },
        signal: o?.signal,
      };
      return settle(
        'put bytes',
        inQuery(key)
          ? raw.PUT('/v1/stores/{storeId}/key', { params: { path: { storeId }, query: { key }, header }, ...init })
          : raw.PUT('/v1/stores/{storeId}/keys/{key}', { params: { path: keyPath(storeId, key), header }, ...init }),
      );
    },
    deleteKey(storeId, key, o) {
      const header = preconditions(o);
      return settle(
        'delete key',
        inQuery(key)
          ? raw.DELETE('/v1/stores/{storeId}/key', { params: { path: { storeId }, query: { key }, header }, signal: o?.signal })
          : raw.DELETE('/v1/stores/{storeId}/keys/{key}', { params: { path: keyPath(storeId, key), header }, signal: o?.signal }),
      );
    },
    write: (storeId, body, o) => settle('write', raw.POST('/v1/stores/{storeId}/writes', { ...store(storeId), body, signal: o?.signal })),
    listKeys: (storeId, query, o) => settle('list keys', raw.GET('/v1/stores/{storeId}/keys', { params: { path: { storeId }, query }, signal: o?.signal })),

    handshake: async (storeId, body, o) => {
      const res = await api.handshakeText(storeId, body, o);
      if (res.error) return res;
      const { handshake, batchText } = res.data;
      return { data: batchText === undefined ? handshake : { ...handshake, batch: parseBatchBody(batchText, parseValue) }, response: res.response };
    },
    handshakeText: (storeId, body, o) =>
      settle(
        'handshake',
        typeof body === 'string'
          ? raw.POST('/v1/stores/{storeId}/sync', { ...store(storeId), body: body as never, ...AS_JSON_TEXT, parseAs: 'text', signal: o?.signal })
          : raw.POST('/v1/stores/{storeId}/sync', { ...store(storeId), body, parseAs: 'text', signal: o?.signal }),
        (text) => splitHandshakeText(text ?? ''),
      ),
    digests: (storeId, body, o) => settle('digests', raw.POST('/v1/stores/{storeId}/sync/digests', { ...store(storeId), body, signal: o?.signal })),
    batch: async (storeId, sessionId, cursor, o) => {
      // As text, so that each value reaches parseValue as written (parseBatchBody).
      const res = await api.batchText(storeId, sessionId, cursor, o);
      return res.error ? res : { data: parseBatchBody(res.data, parseValue), response: res.response };
    },
    batchText: (storeId, sessionId, cursor, o) =>
      settle(
        `batch ${cursor}`,
        raw.GET('/v1/stores/{storeId}/sync/{sessionId}/batches/{cursor}', {
          ...batchPath(storeId, sessionId, cursor),
          parseAs: 'text',
          signal: o?.signal,
          ...(textFetch && { fetch: textFetch }),
        }),
        (text) => text ?? '',
      ),
    ack: (storeId, sessionId, cursor, o) =>
      settle(
        `ack ${cursor}`,
        raw.POST('/v1/stores/{storeId}/sync/{sessionId}/ack', { ...session(storeId, sessionId), body: { cursor }, signal: o?.signal }),
        parseAck,
      ),
    listSessions: (storeId, o) => settle('list sessions', raw.GET('/v1/stores/{storeId}/sessions', { ...store(storeId), signal: o?.signal })),
    sessionStatus: (storeId, sessionId, o) =>
      settle('session status', raw.GET('/v1/stores/{storeId}/sync/{sessionId}', { ...session(storeId, sessionId), signal: o?.signal })),
    cancelSession: (storeId, sessionId, o) =>
      settle('cancel session', raw.DELETE('/v1/stores/{storeId}/sync/{sessionId}', { ...session(storeId, sessionId), signal: o?.signal }), () => undefined),

    async events(storeId, req = {}) {
      const res = await settle(
        'live feed',
        raw.GET('/v1/stores/{storeId}/events', {
          params: {
            path: { storeId },
            query: { since: req.since, prefix: req.prefix },
            header: req.lastEventId === undefined ? {} : { 'last-event-id': req.lastEventId },
          },
          headers: { [HEADERS.accept]: MEDIA_TYPES.eventStream },
          parseAs: 'stream',
          // Live feeds must never come from a cache.
          cache: 'no-store',
          signal: req.signal,
        }),
      );
      if (res.error) return res;
      const type = res.response.headers.get(HEADERS.contentType);
      if (mediaType(type) !== MEDIA_TYPES.eventStream || !res.data) {
        await res.response.body?.cancel().catch(() => undefined);
        throw new ProtocolError(`GET events: expected ${MEDIA_TYPES.eventStream}, got "${type ?? ''}"`);
      }
      return { data: res.data, response: res.response };
    },
  };
  return api;
}

/** The value of a `GET .../keys/{key}` answer: JSON for application/json, bytes for any other type. */
function decodeValue(key: string, response: Response, etag: string, buf: ArrayBuffer | undefined, parseValue: ValueParser = JSON.parse): KeyValue {
  const rev = Number(response.headers.get(HEADERS.rev));
  const ts = response.headers.get(HEADERS.ts) ?? '';
  if (!Number.isSafeInteger(rev) || ts === '') throw new ProtocolError(`get key "${key}": missing ${HEADERS.rev} / ${HEADERS.ts}`);
  const bytes = new Uint8Array(buf ?? new ArrayBuffer(0));
  const contentType = response.headers.get(HEADERS.contentType) ?? 'application/octet-stream';
  if (mediaType(contentType) === MEDIA_TYPES.json) {
    let value: unknown;
    try {
      value = parseValue(new TextDecoder().decode(bytes));
    } catch {
      throw new ProtocolError(`get key "${key}": application/json body is not JSON`);
    }
    return { kind: 'json', key, value, rev, ts, etag };
  }
  return { kind: 'bytes', key, bytes, contentType, rev, ts, etag };
}

/** For callers that hold bytes and want a `writes` op. */
export function putBytesOp(key: string, bytes: Uint8Array, contentType: string): S['PutBytesOp'] {
  return { op: 'put', key, base64: encodeBase64(bytes), contentType };
}
