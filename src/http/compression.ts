/**
 * Response compression (`Accept-Encoding`: br, gzip) with node:zlib streams.
 * Hono's own `compress` middleware uses CompressionStream, which on Node 20
 * has no brotli, and it neither weakens ETags nor leaves a live feed alone.
 *
 * Compressed: bodies of a compressible type (JSON, text, JavaScript, XML,
 * SVG) of unknown length (streamed handshakes) or of at least `minBytes`.
 * Left alone: small bodies, other types (a stored image/png or
 * application/octet-stream value is served as stored), responses that carry
 * `Content-Encoding` or `Cache-Control: no-transform`, and live feeds: an
 * event stream writes its own head to the socket (routes/events.handlers),
 * and a compressor would have to flush every event to keep it live, which
 * buys little on frames of one change each.
 *
 * A compressed representation has other bytes than the identity one, so a
 * strong ETag becomes weak (RFC 9110 8.8.1); If-None-Match compares weakly and
 * If-Match accepts `W/"<rev>"` (http/request parseRevTag), so both still work.
 */
import { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { brotliCompress, constants, createBrotliCompress, createGzip, gzip, type BrotliOptions, type ZlibOptions } from 'node:zlib';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.js';

export type Encoding = 'br' | 'gzip';

export interface CompressionOptions {
  /** false: every response in identity (KEYSYNC_COMPRESSION=off) */
  enabled: boolean;
  gzipLevel: number;
  brotliLevel: number;
  /** bodies of a known length below this are sent as they are */
  minBytes: number;
}

export const DEFAULT_COMPRESSION: CompressionOptions = { enabled: true, gzipLevel: 1, brotliLevel: 1, minBytes: 1024 };

const COMPRESSIBLE = /^\s*(?:text\/(?!event-stream)|application\/(?:json|[\w.+-]+\+json|javascript|xml|[\w.+-]+\+xml|x-ndjson)|image\/svg\+xml)/i;

/** Server preference when the client weighs encodings equally: brotli is smaller at a like cost. */
const PREFERENCE: Encoding[] = ['br', 'gzip'];

/**
 * The encoding to use for an `Accept-Encoding` header, or undefined for
 * identity. q-values are honoured (`q=0` refuses), `*` stands for every
 * coding not named, and of equal weights the server's preference wins.
 */
export function negotiateEncoding(header: string | undefined): Encoding | undefined {
  if (!header) return undefined;
  const weights = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    let q = 1;
    for (const param of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(param);
      if (m) q = Number(m[1]);
    }
    if (Number.isFinite(q)) weights.set(name.trim(), Math.min(1, Math.max(0, q)));
  }
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const encoding of PREFERENCE) {
    const q = weights.get(encoding) ?? weights.get('*') ?? 0;
    if (q > bestQ) [best, bestQ] = [encoding, q];
  }
  return best;
}

/**
 * The brotli window as a power of two: 256 KiB instead of the default 22
 * (4 MiB). A decoder's ring buffer grows up to the window the stream
 * declares (to 2 MiB for a batch of 1 MB at 22), and a syncing client
 * decodes up to `window` batches at once: at 22 a Node client asking for
 * brotli raised the durable replica's peak RSS at 100k keys by about 10 MB
 * (bench medians: gzip 196, brotli 206.5, brotli with 18 200.5 MB).
 * Levels 0 and 1 declare at least 18 whatever is asked (libbrotli), so a
 * smaller window saves a client nothing at the default level and costs
 * bytes. Bytes per doc on the wire at level 1 (compression bench, windows
 * 16/17/18/20/22): random text 768/767/766/766/766; the words text
 * 30.3/27.0/25.3/23.9/23.5, of 1,101 as sent.
 */
export const BROTLI_WINDOW_BITS = 18;

/**
 * The compressor's output buffer: each time it fills, node:zlib hands the
 * stream a chunk and runs the next step of the codec on the thread pool, and
 * that hop, not the codec, is most of the CPU at zlib's default of 16 KiB.
 * Measured on a batch of 1 MB of random text, per 100 batches (CPU of all
 * threads): brotli 1 at 16/64/256 KiB 1.09/0.66/0.53 s, gzip 1 3.8/3.1/2.7 s.
 * So a body of known length gets a buffer its size, up to 256 KiB; a
 * streamed one (a handshake, often small) 64 KiB.
 */
export function chunkSizeFor(length: number | undefined): number {
  if (length === undefined) return 64 * 1024;
  return Math.min(256 * 1024, Math.max(16 * 1024, length));
}

/**
 * Bodies of a known length up to this size are compressed in one call, into
 * one buffer, and sent with a Content-Length: a batch is such a body. Piped
 * through a web TransformStream instead (as larger and streamed bodies are,
 * so that neither end holds them whole), each chunk costs stream machinery
 * on the event loop: measured on 50 batches of 2.2 MB of random text at
 * brotli 1, 458-476 ms of CPU piped against 360-396 ms in one call.
 */
export const ONE_CALL_MAX_BYTES = 8 * 1024 * 1024;

function brotliParams(opts: CompressionOptions, length: number | undefined): Record<number, number> {
  const params: Record<number, number> = {
    [constants.BROTLI_PARAM_QUALITY]: opts.brotliLevel,
    // The bodies are UTF-8 text. (GENERIC measured the same bytes and time at levels 1, 4 and 5.)
    [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    [constants.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS,
  };
  if (length !== undefined) params[constants.BROTLI_PARAM_SIZE_HINT] = length;
  return params;
}

function compressor(encoding: Encoding, opts: CompressionOptions, length: number | undefined) {
  const chunkSize = chunkSizeFor(length);
  if (encoding === 'gzip') return createGzip({ level: opts.gzipLevel, chunkSize });
  return createBrotliCompress({ params: brotliParams(opts, length), chunkSize });
}

const brotliInOneCall = promisify<Uint8Array, BrotliOptions, Buffer>(brotliCompress);
const gzipInOneCall = promisify<Uint8Array, ZlibOptions, Buffer>(gzip);

/**
 * `body` compressed on the thread pool into one buffer: an output buffer
 * the size of the body (a little more, for text that does not compress)
 * takes the codec's whole output in one step.
 */
function compressWhole(encoding: Encoding, opts: CompressionOptions, body: Uint8Array): Promise<Buffer> {
  const chunkSize = Math.max(16 * 1024, body.byteLength + 1024);
  return encoding === 'gzip'
    ? gzipInOneCall(body, { level: opts.gzipLevel, chunkSize })
    : brotliInOneCall(body, { params: brotliParams(opts, body.byteLength), chunkSize });
}

/** Marks a route's non-GET answer as compressible (see `compression`). */
export const compressible: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set('compressible', true);
  await next();
};

export function compression(opts: CompressionOptions = DEFAULT_COMPRESSION): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (!opts.enabled) return;
    // Reads and the handshake carry data; other answers (a write's result, an ack) are small
    // and on a write's hot path, where compressing them costs more than it saves.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !c.get('compressible')) return;
    const res = c.res;
    // A live feed already answered on the socket (node-server's marker); touching c.res would answer twice.
    if (res.headers.has('x-hono-already-sent')) return;
    const type = res.headers.get('content-type') ?? '';
    if (!COMPRESSIBLE.test(type) && res.status !== 304) return;
    const encoding = negotiateEncoding(c.req.header('accept-encoding'));
    // The choice depends on Accept-Encoding whatever it was, so caches must key on it.
    appendVary(res.headers);
    const etag = res.headers.get('etag');
    const weakTag = etag && !etag.startsWith('W/') ? `W/${etag}` : undefined;
    // A 304 names the validator the client holds: the weak one if it cached a compressed 200
    // (and sent that), the strong one if it cached the identity 200 (a small body, or no encoding).
    if (res.status === 304) {
      if (weakTag && (c.req.header('if-none-match') ?? '').includes(weakTag)) res.headers.set('ETag', weakTag);
      return;
    }
    if (!encoding) return;
    if (res.status < 200 || res.status === 204 || res.headers.has('content-encoding')) return;
    if (/\bno-transform\b/i.test(res.headers.get('cache-control') ?? '')) return;
    if (!res.body) return;
    const lengthHeader = res.headers.get('content-length');
    const length = lengthHeader !== null ? Number(lengthHeader) : undefined;
    if (length !== undefined && length < opts.minBytes) return;
    // Bodies without a length (strings, streams) are read up to minBytes to tell a small one.
    const start = length === undefined ? await readUpTo(res.body, opts.minBytes) : { head: [], rest: res.body };
    const headers = new Headers(res.headers);
    if (start.rest === undefined) {
      const whole = Buffer.concat(start.head);
      headers.set('Content-Length', String(whole.length));
      replace(c, new Response(whole, { status: res.status, statusText: res.statusText, headers }));
      return;
    }
    headers.set('Content-Encoding', encoding);
    headers.delete('Content-Length');
    if (weakTag) headers.set('ETag', weakTag);
    const head = c.req.method === 'HEAD';
    if (length !== undefined && length <= ONE_CALL_MAX_BYTES) {
      // HEAD too: its head is GET's, Content-Length included.
      const whole = await compressWhole(encoding, opts, new Uint8Array(await new Response(res.body).arrayBuffer()));
      headers.set('Content-Length', String(whole.byteLength));
      // zlib allocates its output as an ArrayBuffer (never shared).
      const body = head ? null : (whole as Uint8Array<ArrayBuffer>);
      replace(c, new Response(body, { status: res.status, statusText: res.statusText, headers }));
      return;
    }
    // HEAD: the same head as GET (streamed: no length), and no work on a body that is never sent.
    let body: ReadableStream<Uint8Array> | null = null;
    if (head) await start.rest.cancel();
    else body = prepend(start.head, start.rest).pipeThrough(Duplex.toWeb(compressor(encoding, opts, length)) as TransformStream<Uint8Array, Uint8Array>);
    replace(c, new Response(body, { status: res.status, statusText: res.statusText, headers }));
  };
}

/** Cleared first: Hono copies the old response's headers (Content-Length, a strong ETag) onto a new one. */
function replace(c: Context, res: Response): void {
  c.res = undefined;
  c.res = res;
}

/** The first chunks of `body` up to `bytes`; `rest` is undefined when the body ended before. */
async function readUpTo(body: ReadableStream<Uint8Array>, bytes: number): Promise<{ head: Uint8Array[]; rest: ReadableStream<Uint8Array> | undefined }> {
  const reader = body.getReader();
  const head: Uint8Array[] = [];
  let total = 0;
  while (total < bytes) {
    const { done, value } = await reader.read();
    if (done) return { head, rest: undefined };
    head.push(value);
    total += value.byteLength;
  }
  reader.releaseLock();
  return { head, rest: body };
}

function prepend(head: Uint8Array[], rest: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = rest.getReader();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < head.length) return controller.enqueue(head[i++]!);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function appendVary(headers: Headers): void {
  const vary = headers.get('vary');
  if (vary === null) headers.set('Vary', 'Accept-Encoding');
  else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) headers.set('Vary', `${vary}, Accept-Encoding`);
}
