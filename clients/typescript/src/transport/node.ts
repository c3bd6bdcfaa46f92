/**
 * Node's transport for the responses the client reads whole as text (sync
 * batches): a GET over node:http(s) whose body is decoded once into a string
 * and handed over as is.
 *
 * Why not Node's fetch (undici): it copies each chunk through its wasm HTTP
 * parser and into a web stream, then concatenates and decodes them, and
 * builds a Request and a Response around each call. Measured on one 2-core
 * machine, PostgreSQL server, 100,000 values of 1 KiB: a `since` reconnect
 * of 1,000 changed keys (one batch) took 23-26 ms against 32 ms; a whole
 * initial sync used 592-614 ms of client CPU against 618-649 ms.
 *
 * What fetch does that a caller can see is kept: redirects are followed (at
 * most 20, Authorization dropped when one leaves the origin), `br`, `gzip`
 * and `deflate` bodies are decoded, an abort rejects with the signal's
 * reason, a failed connection or a cut body is a TypeError, and a body that
 * starts with a UTF-8 BOM loses it. Connections are reused through Node's
 * global agents (keep-alive since Node 19).
 *
 * node:http, node:https and node:zlib are imported when first needed: all
 * three at start-up added 11 MB to the RSS of a process that imports the
 * client (53 against 42 MB), whether it syncs over https or compressed or not.
 */
import type http from 'node:http';
import type zlib from 'node:zlib';
import { textResponse } from './text-response.js';

/** As fetch (the Fetch standard's redirect limit). */
const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

let httpModule: Promise<typeof http> | undefined;
let httpsModule: Promise<typeof import('node:https')> | undefined;
let zlibModule: Promise<typeof zlib> | undefined;

type Decode = (z: typeof zlib, body: Buffer) => Promise<Buffer>;
const decodeWith = (pick: (z: typeof zlib) => (body: Buffer, done: (error: Error | null, result: Buffer) => void) => void) => (z: typeof zlib, body: Buffer) =>
  new Promise<Buffer>((resolve, reject) => pick(z)(body, (error, result) => (error ? reject(error) : resolve(result))));
const gunzip = decodeWith((z) => z.gunzip);
const inflate = decodeWith((z) => z.inflate);
const inflateRaw = decodeWith((z) => z.inflateRaw);
/** A Map, not an object: a coding named `constructor` must be unknown, not Object's. */
const DECODERS = new Map<string, Decode>([
  ['br', decodeWith((z) => z.brotliDecompress)],
  ['gzip', gunzip],
  ['x-gzip', gunzip],
  // zlib-wrapped, as the standard says; inflateRaw for servers that send it bare, as browsers accept.
  ['deflate', (z, body) => inflate(z, body).catch(() => inflateRaw(z, body))],
]);

/**
 * A GET (or HEAD) as `fetch(url, init)` answers it, with the body already
 * read: the Response's `text()` costs nothing more. Requests with a body are
 * not this transport's job and throw a TypeError.
 */
export async function fetchText(input: string, init: RequestInit = {}): Promise<Response> {
  const method = (init.method ?? 'GET').toUpperCase();
  if ((method !== 'GET' && method !== 'HEAD') || (init.body !== undefined && init.body !== null)) {
    throw new TypeError(`fetchText sends GET and HEAD requests without a body, not ${method}`);
  }
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();
  const headers = new Headers(init.headers);
  let url = new URL(input);
  for (let redirects = 0; ; redirects++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw networkError(new Error(`unsupported protocol ${url.protocol}`), signal);
    const res = await send(url, method, headers, signal);
    const location = res.headers.location;
    if (!REDIRECT_STATUSES.has(res.statusCode ?? 0) || location === undefined || init.redirect === 'manual') {
      return respond(res, method, url, redirects > 0, signal);
    }
    res.resume();
    if (init.redirect === 'error') throw networkError(new Error('unexpected redirect'), signal);
    if (redirects === MAX_REDIRECTS) throw networkError(new Error('redirect count exceeded'), signal);
    const next = new URL(location, url);
    if (next.origin !== url.origin) headers.delete('authorization');
    url = next;
  }
}

async function send(url: URL, method: string, headers: Headers, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
  const transport = url.protocol === 'https:' ? await (httpsModule ??= import('node:https')) : await (httpModule ??= import('node:http'));
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { method, headers: Object.fromEntries(headers), ...(signal && { signal }) });
    req.once('response', resolve);
    req.once('error', (error) => reject(networkError(error, signal)));
    req.end();
  });
}

async function respond(res: http.IncomingMessage, method: string, url: URL, redirected: boolean, signal: AbortSignal | undefined): Promise<Response> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res) chunks.push(chunk as Buffer);
  } catch (error) {
    throw networkError(error, signal);
  }
  // A body shorter than its Content-Length or chunking said: the connection was cut.
  if (!res.complete) throw networkError(new Error('terminated'), signal);
  let body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const codings = (res.headers['content-encoding'] ?? '')
    .toLowerCase()
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c && c !== 'identity');
  // Applied in order, so decoded last first; an unknown coding is handed over undecoded, as fetch does.
  if (method !== 'HEAD' && body.length > 0 && codings.length > 0 && codings.every((c) => DECODERS.has(c))) {
    try {
      const z = await (zlibModule ??= import('node:zlib'));
      for (const coding of codings.reverse()) body = await DECODERS.get(coding)!(z, body);
    } catch (error) {
      throw networkError(error, signal);
    }
  }
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const responseHeaders = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  return textResponse(text, { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: responseHeaders }, url.href, redirected);
}

/** fetch's failures: the abort reason once the signal aborted, else a TypeError with the cause. */
function networkError(cause: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError('fetch failed', { cause });
}
