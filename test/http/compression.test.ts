import { request } from 'node:http';
import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../clients/typescript/src/index.js';
import { NODE_ACCEPT_ENCODING, isLoopback } from '../../clients/typescript/src/http.js';
import { Hono } from 'hono';
import { BROTLI_WINDOW_BITS, ONE_CALL_MAX_BYTES, chunkSizeFor, compression, negotiateEncoding } from '../../src/http/compression.js';
import { eventually, replicaSnapshot, start } from '../client/support.js';
import { bulk, keyPath, newStore, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { ack, sessionPath } from '../support/sync.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** node:http, which (unlike fetch) hands back the body as sent, still encoded. */
function raw(base: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const decode = (r: Raw): Buffer => {
  const enc = r.headers['content-encoding'];
  if (enc === 'gzip') return gunzipSync(r.body);
  if (enc === 'br') return brotliDecompressSync(r.body);
  if (enc === undefined) return r.body;
  throw new Error(`unexpected Content-Encoding ${String(enc)}`);
};

/**
 * The window a brotli stream declares (RFC 7932 9.1: WBITS, the stream's
 * first bits, least significant first), which sizes the decoder's ring buffer.
 */
function brotliWindowBits(stream: Buffer): number {
  let bit = 0;
  const read = (n: number) => {
    let value = 0;
    for (let i = 0; i < n; i++, bit++) value |= ((stream[bit >> 3]! >> (bit & 7)) & 1) << i;
    return value;
  };
  if (read(1) === 0) return 16;
  const n = read(3);
  if (n !== 0) return 17 + n;
  const m = read(3);
  if (m === 1) throw new Error('a large-window brotli stream');
  return m === 0 ? 17 : 8 + m;
}

// Text that compresses well, with characters JSON escapes and multi-byte UTF-8, so a lossy path would show.
const bigValue = (i: number) => ({ i, text: `é🎉 "q" \\ line\n`.repeat(100) + 'x'.repeat(i), list: Array.from({ length: 30 }, (_, j) => j * i) });

const env = useTestServer();
let storeId: string;
beforeAll(async () => {
  storeId = await newStore(env.server);
  await bulk(
    env.server,
    storeId,
    Array.from({ length: 60 }, (_, i) => ({ op: 'put', key: `doc/${String(i).padStart(3, '0')}`, value: bigValue(i) })),
  );
});

describe('Accept-Encoding negotiation', () => {
  it('honours q-values, q=0, * and identity, preferring br on a tie', () => {
    expect(negotiateEncoding(undefined)).toBeUndefined();
    expect(negotiateEncoding('identity')).toBeUndefined();
    expect(negotiateEncoding('gzip, deflate')).toBe('gzip');
    expect(negotiateEncoding('gzip, br')).toBe('br');
    expect(negotiateEncoding('br;q=0.5, gzip')).toBe('gzip');
    expect(negotiateEncoding('br;q=0, gzip;q=0')).toBeUndefined();
    expect(negotiateEncoding('*')).toBe('br');
    expect(negotiateEncoding('*;q=0.1, gzip;q=0.5')).toBe('gzip');
    expect(negotiateEncoding('*, br;q=0')).toBe('gzip');
    expect(negotiateEncoding('deflate')).toBeUndefined();
  });
});

describe('brotli window', () => {
  it('reads the window a stream declares', () => {
    const text = Buffer.from(JSON.stringify(bigValue(3)).repeat(50));
    // Level 4: levels 0 and 1 declare at least 18.
    for (const bits of [10, 16, 17, 18, 22, 24]) {
      const stream = brotliCompressSync(text, { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_LGWIN]: bits } });
      expect(brotliWindowBits(stream)).toBe(bits);
    }
  });

  it('is bounded below the default (22, 4 MiB) that a decoder would otherwise keep per batch in flight', () => {
    expect(BROTLI_WINDOW_BITS).toBeLessThan(constants.BROTLI_DEFAULT_WINDOW);
  });
});

describe('compressor buffers', () => {
  it('fit a whole body up to 256 KiB (not the 16 KiB default, whose thread-pool hops cost more than the codec)', () => {
    expect(chunkSizeFor(100)).toBe(16 * 1024);
    expect(chunkSizeFor(100_000)).toBe(100_000);
    expect(chunkSizeFor(1_000_000)).toBe(256 * 1024);
    // A streamed body's length is unknown: a handshake is often small.
    expect(chunkSizeFor(undefined)).toBe(64 * 1024);
  });
});

describe('bodies of a known length', () => {
  const app = (bytes: Uint8Array) => {
    const hono = new Hono();
    hono.use(compression());
    hono.get('/body', (c) => c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/json', 'content-length': String(bytes.byteLength) }));
    return hono;
  };
  const text = (bytes: number) => new TextEncoder().encode(JSON.stringify('é "q" 0123456789 '.repeat(Math.ceil(bytes / 18))).slice(0, bytes));

  it('up to ONE_CALL_MAX_BYTES are compressed in one call and sent with their compressed length, HEAD telling the same', async () => {
    const body = text(300_000);
    for (const enc of ['br', 'gzip'] as const) {
      for (const method of ['GET', 'HEAD']) {
        const res = await app(body).request('/body', { method, headers: { 'accept-encoding': enc } });
        expect(res.headers.get('content-encoding')).toBe(enc);
        const sent = Buffer.from(await res.arrayBuffer());
        const length = Number(res.headers.get('content-length'));
        expect(length).toBeGreaterThan(0);
        expect(length).toBeLessThan(body.byteLength / 4);
        if (method === 'HEAD') continue;
        expect(sent.length).toBe(length);
        expect(decode({ status: 200, headers: { 'content-encoding': enc }, body: sent }).equals(body)).toBe(true);
      }
    }
  });

  it('larger ones are streamed through the compressor (neither end holds them whole), without a length', async () => {
    const body = text(ONE_CALL_MAX_BYTES + 1);
    const res = await app(body).request('/body', { headers: { 'accept-encoding': 'br' } });
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('content-length')).toBeNull();
    const sent = Buffer.from(await res.arrayBuffer());
    expect(decode({ status: 200, headers: { 'content-encoding': 'br' }, body: sent }).equals(body)).toBe(true);
  });
});

describe('compressed responses', () => {
  const path = () => keyPath(storeId, 'doc/007');

  it('sends GET in gzip, br or identity as asked, with Vary, and the same bytes once decoded', async () => {
    const identity = await raw(env.server.url, path(), { headers: { 'accept-encoding': 'identity' } });
    expect(identity.status).toBe(200);
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.headers.vary).toMatch(/accept-encoding/i);
    expect(Number(identity.headers['content-length'])).toBe(identity.body.length);
    expect(JSON.parse(identity.body.toString('utf8'))).toEqual(bigValue(7));
    for (const enc of ['gzip', 'br'] as const) {
      const r = await raw(env.server.url, path(), { headers: { 'accept-encoding': enc } });
      expect(r.status).toBe(200);
      expect(r.headers['content-encoding']).toBe(enc);
      expect(r.headers.vary).toMatch(/accept-encoding/i);
      expect(r.headers['content-length']).toBeUndefined();
      expect(r.body.length).toBeLessThan(identity.body.length / 2);
      expect(decode(r).equals(identity.body)).toBe(true);
    }
    const none = await raw(env.server.url, path());
    expect(none.headers['content-encoding']).toBeUndefined();
    const refused = await raw(env.server.url, path(), { headers: { 'accept-encoding': 'br;q=0, gzip;q=0, identity' } });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body.equals(identity.body)).toBe(true);
  });

  it('weakens the ETag of a compressed GET; If-None-Match and If-Match still work with either tag', async () => {
    const identity = await raw(env.server.url, path(), { headers: { 'accept-encoding': 'identity' } });
    const strong = identity.headers.etag as string;
    expect(strong).toMatch(/^"\d+"$/);
    const gz = await raw(env.server.url, path(), { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers.etag).toBe(`W/${strong}`);
    for (const tag of [strong, `W/${strong}`]) {
      const notModified = await raw(env.server.url, path(), { headers: { 'accept-encoding': 'gzip', 'if-none-match': tag } });
      expect(notModified.status).toBe(304);
      expect(notModified.body.length).toBe(0);
      // The 304 names the validator the client sent: the one it holds.
      expect(notModified.headers.etag).toBe(tag);
    }
    const plain304 = await raw(env.server.url, path(), { headers: { 'if-none-match': strong } });
    expect(plain304.status).toBe(304);
    expect(plain304.headers.etag).toBe(strong);
    // A conditional write with the weak tag a compressed read returned.
    const written = await raw(env.server.url, path(), {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': gz.headers.etag as string },
      body: JSON.stringify(bigValue(7)),
    });
    expect(written.status).toBe(200);
    const stale = await raw(env.server.url, path(), { method: 'PUT', headers: { 'content-type': 'application/json', 'if-match': `W/${strong}` }, body: '1' });
    expect(stale.status).toBe(412);
  });

  it('answers HEAD with the head GET would have, and no body', async () => {
    const get = await raw(env.server.url, path(), { headers: { 'accept-encoding': 'br' } });
    const head = await raw(env.server.url, path(), { method: 'HEAD', headers: { 'accept-encoding': 'br' } });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    for (const name of ['content-encoding', 'content-type', 'etag', 'vary', 'content-length']) expect(head.headers[name]).toEqual(get.headers[name]);
  });

  it('compresses listings, handshakes and batches, whose decoded bodies equal the identity ones', async () => {
    const list = `/v1/stores/${storeId}/keys?limit=50`;
    const listId = await raw(env.server.url, list, { headers: { 'accept-encoding': 'identity' } });
    const listGz = await raw(env.server.url, list, { headers: { 'accept-encoding': 'gzip' } });
    expect(listGz.headers['content-encoding']).toBe('gzip');
    expect(decode(listGz).equals(listId.body)).toBe(true);

    // Keys the server does not hold come back in the handshake's stale list: enough of them to pass the threshold.
    const { ts } = await put(env.server, storeId, 'handshake-ts', 1);
    const have = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`gone/${'g'.repeat(40)}/${i}`, ts]));
    const handshakePath = `/v1/stores/${storeId}/sync`;
    const body = JSON.stringify({ have, batchSize: 25 });
    const headers = { 'content-type': 'application/json' };
    const hsId = await raw(env.server.url, handshakePath, { method: 'POST', headers: { ...headers, 'accept-encoding': 'identity' }, body });
    const hsBr = await raw(env.server.url, handshakePath, { method: 'POST', headers: { ...headers, 'accept-encoding': 'br' }, body });
    expect(hsId.status).toBe(201);
    expect(hsBr.status).toBe(201);
    expect(hsBr.headers['content-encoding'], hsId.body.toString('utf8').slice(0, 300)).toBe('br');
    const a = JSON.parse(hsId.body.toString('utf8'));
    const b = JSON.parse(decode(hsBr).toString('utf8'));
    expect({ ...b, sessionId: a.sessionId, expiresAt: a.expiresAt }).toEqual(a);
    expect(a.stale.length + a.removed.length).toBeGreaterThan(0);
    const docs: string[] = [];
    for (let cursor = 0; cursor < a.batches; cursor++) {
      const batchId = await raw(env.server.url, `${sessionPath(storeId, a.sessionId)}/batches/${cursor}`, { headers: { 'accept-encoding': 'identity' } });
      const batchBr = await raw(env.server.url, `${sessionPath(storeId, b.sessionId)}/batches/${cursor}`, { headers: { 'accept-encoding': 'br' } });
      expect(batchId.status).toBe(200);
      expect(batchBr.headers['content-encoding']).toBe('br');
      // A batch is sent whole: its identity form has a length, so it is compressed in one call and keeps one.
      expect(Number(batchId.headers['content-length'])).toBe(batchId.body.length);
      expect(Number(batchBr.headers['content-length'])).toBe(batchBr.body.length);
      expect(batchBr.body.length).toBeLessThan(batchId.body.length / 2);
      // A bounded window: a client decodes several batches at once, each decoder holding a window of output.
      expect(brotliWindowBits(batchBr.body)).toBe(BROTLI_WINDOW_BITS);
      expect(decode(batchBr).equals(batchId.body)).toBe(true);
      for (const entry of JSON.parse(batchId.body.toString('utf8')).entries as Array<{ key: string }>) docs.push(entry.key);
      for (const session of [a.sessionId, b.sessionId]) expect((await ack(env.server, storeId, session, cursor)).status).toBe(200);
    }
    expect(docs.filter((k) => k.startsWith('doc/'))).toHaveLength(60);
  });

  it('leaves a small body alone', async () => {
    await put(env.server, storeId, 'small', { a: 1 });
    const r = await raw(env.server.url, keyPath(storeId, 'small'), { headers: { 'accept-encoding': 'gzip, br' } });
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.headers.vary).toMatch(/accept-encoding/i);
    expect(r.body.toString('utf8')).toBe('{"a":1}');
  });

  it('serves a stored value of an already-compressed type as stored', async () => {
    const png = Buffer.alloc(8192, 7);
    const stored = await env.server.fetch(keyPath(storeId, 'img'), { method: 'PUT', headers: { 'content-type': 'image/png' }, body: png });
    expect(stored.status).toBe(200);
    const r = await raw(env.server.url, keyPath(storeId, 'img'), { headers: { 'accept-encoding': 'gzip, br' } });
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.headers.etag).toMatch(/^"\d+"$/);
    expect(r.body.equals(png)).toBe(true);
  });
});

describe('live feed and the TS client', () => {
  it('sends the live feed unencoded, events arriving as they happen', async () => {
    const feed = await openFeed(env.server, storeId, '', { headers: { 'accept-encoding': 'gzip, br' } });
    try {
      expect(feed.status).toBe(200);
      expect(feed.headers.get('content-encoding')).toBeNull();
      await feed.waitFor(({ events }) => events.some((e) => e.event === 'ready'));
      const started = Date.now();
      await put(env.server, storeId, 'live/1', bigValue(500));
      await feed.waitFor(({ events }) => events.some((e) => e.data?.key === 'live/1'), 2000);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      feed.close();
    }
  });

  /** A TS client's sync of the store: what it asked for and what came back. */
  async function syncRecording(options: { compress?: boolean; baseUrl?: string }) {
    const asked = new Set<string>();
    const encodings = new Set<string>();
    const recording = async (input: RequestInfo | URL, init?: RequestInit) => {
      asked.add(new Headers(init?.headers).get('accept-encoding') ?? '(none)');
      const res = await fetch(input, init);
      encodings.add(res.headers.get('content-encoding') ?? 'identity');
      return res;
    };
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store, batchSize: 20, fetch: recording, ...options });
    try {
      await run.completed;
      const snapshot = await replicaSnapshot(store);
      await eventually(() => expect(snapshot['doc/042']).toEqual(bigValue(42)));
      expect(Object.keys(snapshot).filter((k) => k.startsWith('doc/'))).toHaveLength(60);
    } finally {
      await run.client.unsubscribe();
    }
    return { asked: [...asked], encodings };
  }

  it('syncs through the TS client over brotli (asked for by name on Node), the replica equal to the server', async () => {
    const { asked, encodings } = await syncRecording({ compress: true });
    expect(asked).toEqual([NODE_ACCEPT_ENCODING]);
    expect(NODE_ACCEPT_ENCODING).toBe('br, gzip');
    expect(encodings.has('br')).toBe(true);
    expect(encodings.has('gzip')).toBe(false);
  });

  it('asks for identity by default when the server is on loopback (compressing would cost CPU and save no time)', async () => {
    for (const baseUrl of [env.server.url, env.server.url.replace('127.0.0.1', 'localhost')]) {
      const { asked, encodings } = await syncRecording({ baseUrl });
      expect(asked).toEqual(['identity']);
      expect([...encodings]).toEqual(['identity']);
    }
  });

  it('tells a loopback base URL from others', () => {
    for (const url of [
      'http://127.0.0.1:8787',
      'http://127.1.2.3',
      'http://localhost:1',
      'https://LOCALHOST/x',
      'http://app.localhost',
      'http://[::1]:8787/prefix',
    ]) {
      expect(isLoopback(url), url).toBe(true);
    }
    for (const url of [
      'http://10.0.0.1',
      'https://sync.example.com',
      'http://localhost.example.com',
      'http://127.0.0.1.example.com',
      'http://[::2]',
      'not a url',
    ]) {
      expect(isLoopback(url), url).toBe(false);
    }
  });
});
