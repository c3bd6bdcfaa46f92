/**
 * The bridge between openapi-fetch and the rest of the client, in the
 * openapi-fetch style: errors are values (`{data} | {error, response}`, the
 * error always a Problem) and the only throws are network failures, aborts
 * and bodies that break the contract (ProtocolError). `fetch` is injectable
 * so tests, proxies and runtimes without a global fetch all work.
 */
import createClient, { type Client } from 'openapi-fetch';
import { ProtocolError } from './errors.js';
import { HEADERS, MEDIA_TYPES, isLoopbackName, type paths, type Problem } from '@keysync/protocol';
import { fetchText } from '#text-transport';

/**
 * What we need of `fetch`: called as `fetch(url, init)` with a string URL,
 * never with a Request object, so the global fetch, polyfills and simple
 * test doubles all satisfy it.
 */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type HttpResult<T> = { data: T; error?: undefined; response: Response } | { data?: undefined; error: Problem; response: Response };

export interface HttpOptions {
  /** Server origin plus optional path prefix, e.g. `https://sync.example.com`. */
  baseUrl: string;
  /** Bearer token; omitted in open mode. */
  token?: string | undefined;
  fetch?: FetchLike | undefined;
  /**
   * On Node, ask the server for compressed responses (`Accept-Encoding: br,
   * gzip`; browsers choose for themselves). Default: yes, unless `baseUrl`
   * names a loopback host (`localhost`, `127.x.x.x`, `[::1]`), where
   * compressing costs CPU on both ends and saves no time: an initial sync of
   * 100,000 values of 1 KiB on one 2-core machine took 2.6-3.2 s in identity
   * and 3.4-3.7 s in brotli.
   */
  compress?: boolean | undefined;
}

/** The openapi-fetch client over the generated `paths` of openapi/openapi.json. */
export type RawClient = Client<paths>;

const INIT = Symbol('keysync.requestInit');
type Captured = Request & { [INIT]?: { url: string; init: RequestInit } };

/**
 * openapi-fetch builds a Request and passes it to `fetch`. A Request's body
 * is a stream, which a `(url, init)` fetch cannot take back portably, so a
 * Request subclass keeps the URL and init it was built from and the fetch
 * shim below replays those.
 */
function capturingRequest(): typeof Request {
  return class CapturingRequest extends globalThis.Request {
    constructor(input: RequestInfo | URL, init: RequestInit = {}) {
      super(input, init);
      (this as Captured)[INIT] = { url: typeof input === 'string' ? input : String(input instanceof Request ? input.url : input), init };
    }

    /**
     * openapi-fetch takes a middleware's new request only if it is an
     * instance of this class; any Request will do (replay sends it as built).
     */
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof globalThis.Request;
    }
  };
}

/**
 * @example
 * const raw = createRawClient({ baseUrl: 'http://127.0.0.1:8787' });
 * const { data } = await raw.GET('/v1/stores/{storeId}', { params: { path: { storeId } } });
 */
export function createRawClient(options: HttpOptions): RawClient {
  // Calling a detached `fetch` throws "Illegal invocation" in browsers, so
  // look the global up at call time instead of storing a reference.
  const doFetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const headers: Record<string, string> = { [HEADERS.accept]: `${MEDIA_TYPES.json}, ${MEDIA_TYPES.problem}` };
  if (options.token !== undefined) headers[HEADERS.authorization] = `Bearer ${options.token}`;
  if (onNode()) headers[HEADERS.acceptEncoding] = (options.compress ?? !isLoopback(options.baseUrl)) ? NODE_ACCEPT_ENCODING : 'identity';
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers,
    Request: capturingRequest(),
    fetch: (request: Request) => replay(request, doFetch),
  });
}

/**
 * Sends a request openapi-fetch built through a `(url, init)` fetch: the URL
 * and init it was built from, with its headers as they are now (a middleware
 * may have set some), or, when a middleware (raw.use) replaced it, what the
 * middleware built.
 */
async function replay(request: Request, send: FetchLike): Promise<Response> {
  const captured = (request as Captured)[INIT];
  if (captured) return send(captured.url, { ...captured.init, headers: request.headers });
  const body = request.body === null ? undefined : await request.arrayBuffer();
  return send(request.url, { method: request.method, headers: request.headers, body, signal: request.signal });
}

/** A per-request `fetch` of openapi-fetch. */
export type RequestFetch = (request: Request) => Promise<Response>;

/**
 * The fetch for responses read whole as text (sync batches): on Node, our
 * own transport (transport/node.ts: less CPU and time per batch than Node's
 * fetch), unless `options.fetch` was given, which then carries every request.
 * Undefined means the client's fetch.
 */
export function textFetchOf(options: HttpOptions): RequestFetch | undefined {
  const transport = fetchText;
  if (options.fetch !== undefined || transport === undefined) return undefined;
  return (request) => replay(request, transport);
}

/**
 * What the client asks for on Node, whose fetch (undici) decodes brotli but
 * offers only `gzip, deflate`. Brotli at the server's level 1 is smaller than
 * gzip 1 and costs both sides less CPU (about 3 ms against 17 ms to encode a
 * 1 MB batch of random text), which shortens an initial sync.
 */
export const NODE_ACCEPT_ENCODING = 'br, gzip';

/** A base URL on this machine's loopback interface (an unparsable one is not). */
export function isLoopback(baseUrl: string): boolean {
  let host: string;
  try {
    host = new URL(baseUrl).hostname.toLowerCase();
  } catch {
    return false;
  }
  // Names under .localhost resolve to loopback too (RFC 6761).
  return isLoopbackName(host) || host.endsWith('.localhost');
}

/**
 * Node's own fetch. Browsers set `Accept-Encoding` themselves (a page cannot).
 * An injected fetch on Node is most often a wrapper of the global one; one
 * that is not can set its own header.
 */
function onNode(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
}

type RawResult<D> = { data?: D; error?: unknown; response: Response };

/**
 * Turns an openapi-fetch result into an HttpResult: error bodies become
 * Problems, success bodies go through `parse` (the wire.ts checks on the sync
 * path) and a body that is not JSON becomes a ProtocolError.
 */
export async function settle<D, T = D>(what: string, call: Promise<RawResult<D>>, parse?: (body: D | undefined) => T): Promise<HttpResult<T>> {
  let res: RawResult<D>;
  try {
    res = await call;
  } catch (cause) {
    // A cut connection surfaces as a TypeError: keep it a network failure.
    if (cause instanceof SyntaxError) throw new ProtocolError(`${what}: response is not JSON`);
    throw cause;
  }
  const { response } = res;
  if (!response.ok) return { error: toProblem(res.error, response), response };
  return { data: parse ? parse(res.data) : (res.data as T), response };
}

/**
 * The problem body of an error response. Proxies and load balancers answer
 * with HTML or nothing; synthesize a problem from the status then, so callers
 * handle one shape. `body` is what openapi-fetch read: parsed JSON, the raw
 * text, or undefined for an empty body.
 */
export function toProblem(body: unknown, response: Response): Problem {
  if (typeof body === 'object' && body !== null && typeof (body as Problem).type === 'string') {
    const p = body as Problem;
    return {
      ...p,
      title: typeof p.title === 'string' ? p.title : response.statusText || `HTTP ${response.status}`,
      status: typeof p.status === 'number' ? p.status : response.status,
    };
  }
  const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    ...(text ? { detail: text.slice(0, 200) } : {}),
  };
}

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}
