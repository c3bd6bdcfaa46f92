/**
 * The smallest HTTP layer the sync loop needs, in the openapi-fetch style:
 * errors are values (`{data} | {error, response}`) and the only throws are
 * network failures, aborts and bodies that cannot be read or break the
 * contract (ProtocolError). `fetch` is injectable so tests, proxies and
 * runtimes without a global fetch all work.
 */
import { ProtocolError } from './errors.js';
import { HEADERS, MEDIA_TYPES } from './protocol.js';
import type { Problem } from './types.js';

/** What we need of `fetch`; the global one and most polyfills satisfy it. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type HttpResult<T> =
  | { data: T; error?: undefined; response: Response }
  | { data?: undefined; error: Problem; response: Response };

export interface HttpOptions {
  /** Server origin plus optional path prefix, e.g. `https://sync.example.com`. */
  baseUrl: string;
  /** Bearer token; omitted in open mode. */
  token?: string | undefined;
  fetch?: FetchLike | undefined;
}

export interface JsonRequest<T> {
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Validates the success body; throw ProtocolError when it is wrong. */
  parse: (body: unknown) => T;
}

export interface Http {
  json<T>(method: string, path: string, req: JsonRequest<T>): Promise<HttpResult<T>>;
  /** Opens a streaming GET; on success `data` is the unread body. */
  stream(
    path: string,
    req: { headers?: Record<string, string>; signal?: AbortSignal | undefined },
  ): Promise<HttpResult<ReadableStream<Uint8Array>>>;
}

export function createHttp(options: HttpOptions): Http {
  const base = options.baseUrl.replace(/\/+$/, '');
  // Calling a detached `fetch` throws "Illegal invocation" in browsers, so
  // look the global up at call time instead of storing a reference.
  const doFetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  function headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { [HEADERS.accept]: MEDIA_TYPES.json, ...extra };
    if (options.token !== undefined) h[HEADERS.authorization] = `Bearer ${options.token}`;
    return h;
  }

  return {
    async json<T>(method: string, path: string, req: JsonRequest<T>): Promise<HttpResult<T>> {
      const init: RequestInit = { method, headers: headers(), signal: req.signal ?? null };
      if (req.body !== undefined) {
        init.headers = headers({ [HEADERS.contentType]: MEDIA_TYPES.json });
        init.body = JSON.stringify(req.body);
      }
      const response = await doFetch(base + path, init);
      if (!response.ok) return { error: await readProblem(response), response };
      if (response.status === 204) return { data: req.parse(undefined), response };
      let body: unknown;
      try {
        body = await response.json();
      } catch (cause) {
        // A cut connection surfaces as a TypeError: keep it a network failure.
        if (cause instanceof SyntaxError) {
          throw new ProtocolError(`${method} ${path}: response is not JSON`);
        }
        throw cause;
      }
      return { data: req.parse(body), response };
    },

    async stream(path, req) {
      const response = await doFetch(base + path, {
        method: 'GET',
        headers: headers({ [HEADERS.accept]: MEDIA_TYPES.eventStream, ...req.headers }),
        signal: req.signal ?? null,
        // Live feeds must never come from a cache.
        cache: 'no-store',
      });
      if (!response.ok) return { error: await readProblem(response), response };
      const type = response.headers.get(HEADERS.contentType) ?? '';
      if (!type.toLowerCase().startsWith(MEDIA_TYPES.eventStream) || response.body === null) {
        await response.body?.cancel().catch(() => undefined);
        throw new ProtocolError(`GET ${path}: expected ${MEDIA_TYPES.eventStream}, got "${type}"`);
      }
      return { data: response.body, response };
    },
  };
}

/**
 * The problem body of an error response. Proxies and load balancers answer
 * with HTML or nothing; synthesize a problem from the status then, so callers
 * handle one shape.
 */
export async function readProblem(response: Response): Promise<Problem> {
  const text = await response.text();
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null && typeof (body as Problem).type === 'string') {
      const p = body as Problem;
      return { ...p, status: typeof p.status === 'number' ? p.status : response.status };
    }
  } catch {
    // not JSON: fall through
  }
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    ...(text ? { detail: text.slice(0, 200) } : {}),
  };
}
