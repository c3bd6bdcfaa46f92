/**
 * Typed calls of the keysync API that the sync loop uses.
 *
 * TODO(schema): when `src/schema.d.ts` exists (npm run -w @keysync/client
 * generate), build this on openapi-fetch over the generated `paths`:
 *
 *   import createClient from 'openapi-fetch';
 *   import type { paths } from './schema.js';
 *   const client = createClient<paths>({ baseUrl, fetch, headers: auth(token) });
 *   handshake: (storeId, body, signal) =>
 *     client.POST('/v1/stores/{storeId}/sync', { params: { path: { storeId } }, body, signal })
 *
 * and expose `client` itself as `api.raw` for the routes the loop does not use
 * (keys, writes, stores, tokens). Keep the method names and the
 * `{data} | {error, response}` results below so sync-client.ts is unchanged;
 * openapi-fetch returns exactly that shape. `events` stays on http.ts, because
 * openapi-fetch parses bodies and SSE needs the raw stream.
 */
import { createHttp, type FetchLike, type HttpResult } from './http.js';
import { API_PREFIX, HEADERS } from './protocol.js';
import type { AckResponse, BatchResponse, HandshakeRequest, HandshakeResponse } from './types.js';
import { parseAck, parseBatch, parseHandshake } from './wire.js';

export interface ApiClientOptions {
  baseUrl: string;
  token?: string | undefined;
  fetch?: FetchLike | undefined;
}

export interface EventsRequest {
  since?: number | undefined;
  prefix?: string | undefined;
  /** Sent as `Last-Event-ID`; the server prefers it over `since`. */
  lastEventId?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface ApiClient {
  handshake(storeId: string, body: HandshakeRequest, signal?: AbortSignal): Promise<HttpResult<HandshakeResponse>>;
  batch(storeId: string, sessionId: string, cursor: number, signal?: AbortSignal): Promise<HttpResult<BatchResponse>>;
  ack(storeId: string, sessionId: string, cursor: number, signal?: AbortSignal): Promise<HttpResult<AckResponse>>;
  cancelSession(storeId: string, sessionId: string, signal?: AbortSignal): Promise<HttpResult<undefined>>;
  /** Opens the live feed; `data` is the unread `text/event-stream` body. */
  events(storeId: string, req: EventsRequest): Promise<HttpResult<ReadableStream<Uint8Array>>>;
}

/**
 * @example
 * const api = createApiClient({ baseUrl: 'http://127.0.0.1:8787', token });
 * const res = await api.handshake(id, { have: {} });
 * if (res.error) console.error(res.error.title); else console.log(res.data.batches);
 */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const http = createHttp(options);
  // Ids are UUIDs today, but a path segment is encoded all the same.
  const store = (id: string) => `${API_PREFIX}/stores/${encodeURIComponent(id)}`;
  const session = (id: string, sid: string) => `${store(id)}/sync/${encodeURIComponent(sid)}`;

  return {
    handshake: (storeId, body, signal) =>
      http.json('POST', `${store(storeId)}/sync`, { body, signal, parse: parseHandshake }),
    batch: (storeId, sessionId, cursor, signal) =>
      http.json('GET', `${session(storeId, sessionId)}/batches/${cursor}`, { signal, parse: parseBatch }),
    ack: (storeId, sessionId, cursor, signal) =>
      http.json('POST', `${session(storeId, sessionId)}/ack`, { body: { cursor }, signal, parse: parseAck }),
    cancelSession: (storeId, sessionId, signal) =>
      http.json('DELETE', session(storeId, sessionId), { signal, parse: () => undefined }),
    events(storeId, req) {
      const query = new URLSearchParams();
      if (req.since !== undefined) query.set('since', String(req.since));
      if (req.prefix !== undefined) query.set('prefix', req.prefix);
      const qs = query.toString() === '' ? '' : `?${query.toString()}`;
      const headers: Record<string, string> = {};
      if (req.lastEventId !== undefined) headers[HEADERS.lastEventId] = req.lastEventId;
      return http.stream(`${store(storeId)}/events${qs}`, { headers, signal: req.signal });
    },
  };
}
