/**
 * The Node transport for batch reads (src/transport/node.ts) against a
 * node:http server on loopback: each answer is compared with what Node's own
 * fetch makes of the same request, since the transport stands in for it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../src/api.js';
import { textFetchOf } from '../src/http.js';
import { fetchText } from '../src/transport/node.js';
import { textResponse } from '../src/transport/text-response.js';

const BODY = `{"cursor":0,"entries":[\n{"key":"é/ü","rev":1,"ts":"t","value":"${'x'.repeat(5000)} ✓"}\n]}`;

let main: Server;
let other: Server;
let base: string;
let otherBase: string;
/** The Authorization header the other origin received last. */
let otherAuthorization: string | undefined;

function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url!, 'http://x');
  const [, head, arg] = url.pathname.split('/');
  switch (head) {
    case 'text':
      send(res, 200, BODY, { 'x-one': 'a', 'set-cookie': ['a=1', 'b=2'] });
      return;
    case 'bom':
      send(res, 200, `\uFEFF${BODY}`);
      return;
    case 'gzip':
      send(res, 200, gzipSync(BODY), { 'content-encoding': 'gzip' });
      return;
    case 'br':
      send(res, 200, brotliCompressSync(BODY), { 'content-encoding': 'br' });
      return;
    case 'deflate':
      send(res, 200, deflateSync(BODY), { 'content-encoding': 'deflate' });
      return;
    case 'deflate-raw':
      send(res, 200, deflateRawSync(BODY), { 'content-encoding': 'deflate' });
      return;
    case 'gzip-br':
      send(res, 200, brotliCompressSync(gzipSync(BODY)), { 'content-encoding': 'gzip, br' });
      return;
    case 'unknown-coding':
      send(res, 200, 'not really compressed', { 'content-encoding': 'x-made-up' });
      return;
    case 'constructor-coding':
      send(res, 200, 'not really compressed', { 'content-encoding': 'constructor' });
      return;
    case 'problem':
      send(res, 404, '{"type":"about:blank","title":"Not Found","status":404}', { 'content-type': 'application/problem+json' });
      return;
    case 'empty':
      res.writeHead(204).end();
      return;
    case 'echo-auth':
      send(res, 200, JSON.stringify({ authorization: req.headers.authorization ?? null, accept: req.headers['accept-encoding'] ?? null }));
      return;
    case 'redirect': {
      const left = Number(arg);
      res.writeHead(left > 0 ? 302 : 200, left > 0 ? { location: `/redirect/${left - 1}` } : {}).end(left > 0 ? '' : 'arrived');
      return;
    }
    case 'to-other':
      res.writeHead(307, { location: `${otherBase}/echo-auth` }).end();
      return;
    case 'to-self':
      res.writeHead(308, { location: '/echo-auth' }).end();
      return;
    case 'loop':
      res.writeHead(301, { location: '/loop' }).end();
      return;
    case 'cut':
      // Promises 100,000 bytes, sends 10, then the connection goes.
      res.writeHead(200, { 'content-length': '100000' });
      res.write('0123456789', () => res.socket?.destroy());
      return;
    case 'stall':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"cursor":');
      return;
    case 'v1':
      // The API's routes: what the request carried, to see what a client sent.
      send(res, 200, JSON.stringify({ path: url.pathname, middleware: req.headers['x-middleware'] ?? null }));
      return;
    default:
      send(res, 404, 'no route');
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  main = createServer(route);
  other = createServer((req, res) => {
    otherAuthorization = req.headers.authorization;
    send(res, 200, JSON.stringify({ authorization: req.headers.authorization ?? null }));
  });
  base = await listen(main);
  // Another port is another origin.
  otherBase = await listen(other);
});

afterAll(async () => {
  main.closeAllConnections();
  other.closeAllConnections();
  await Promise.all([new Promise((r) => main.close(r)), new Promise((r) => other.close(r))]);
});

/** What a caller can see of a response: status line, the headers we read, and the text. */
async function seen(res: Response) {
  return {
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    contentType: res.headers.get('content-type'),
    contentEncoding: res.headers.get('content-encoding'),
    cookies: res.headers.getSetCookie(),
    redirected: res.redirected,
    url: res.url,
    text: await res.text(),
  };
}

const HEADERS = { accept: 'application/json', 'accept-encoding': 'br, gzip, deflate' };

describe('fetchText, next to Node fetch', () => {
  it.each([
    'text',
    'bom',
    'gzip',
    'br',
    'deflate',
    'deflate-raw',
    'gzip-br',
    'unknown-coding',
    'constructor-coding',
    'problem',
    'empty',
    'redirect/3',
    'to-self',
  ])('answers /%s as fetch does', async (path) => {
    const init = { headers: HEADERS };
    const ours = await fetchText(`${base}/${path}`, init);
    expect(ours).toBeInstanceOf(Response);
    expect(await seen(ours)).toEqual(await seen(await fetch(`${base}/${path}`, init)));
  });

  it('decodes what it was asked to decode to the exact text, BOM removed', async () => {
    for (const path of ['text', 'bom', 'gzip', 'br', 'deflate', 'deflate-raw', 'gzip-br']) {
      expect(await (await fetchText(`${base}/${path}`, { headers: HEADERS })).text()).toBe(BODY);
    }
  });

  it('keeps Authorization within the origin and drops it when a redirect leaves it', async () => {
    const headers = { authorization: 'Bearer secret' };
    expect(await (await fetchText(`${base}/to-self`, { headers })).json()).toMatchObject({ authorization: 'Bearer secret' });
    otherAuthorization = 'unset';
    const res = await fetchText(`${base}/to-other`, { headers });
    expect(res.url).toBe(`${otherBase}/echo-auth`);
    expect(res.redirected).toBe(true);
    expect(await res.json()).toEqual({ authorization: null });
    expect(otherAuthorization).toBeUndefined();
  });

  it('follows 20 redirects and fails on the 21st, or on the first when told not to follow', async () => {
    expect(await (await fetchText(`${base}/redirect/20`)).text()).toBe('arrived');
    await expect(fetchText(`${base}/redirect/21`)).rejects.toThrow(TypeError);
    await expect(fetchText(`${base}/loop`)).rejects.toMatchObject({ name: 'TypeError', cause: { message: 'redirect count exceeded' } });
    await expect(fetchText(`${base}/redirect/1`, { redirect: 'error' })).rejects.toThrow(TypeError);
    const manual = await fetchText(`${base}/redirect/1`, { redirect: 'manual' });
    expect([manual.status, manual.headers.get('location')]).toEqual([302, '/redirect/0']);
  });

  it('fails as fetch does: a refused connection and a cut body are TypeErrors, an abort rejects with its reason', async () => {
    const closed = createServer();
    const closedBase = await listen(closed);
    await new Promise((r) => closed.close(r));
    await expect(fetchText(`${closedBase}/text`)).rejects.toMatchObject({ name: 'TypeError', cause: { code: 'ECONNREFUSED' } });
    await expect(fetch(`${closedBase}/text`)).rejects.toThrow(TypeError);

    await expect(fetchText(`${base}/cut`)).rejects.toThrow(TypeError);
    await expect(fetch(`${base}/cut`).then((r) => r.text())).rejects.toThrow(TypeError);

    const reason = new Error('unsubscribed');
    const before = new AbortController();
    before.abort(reason);
    await expect(fetchText(`${base}/text`, { signal: before.signal })).rejects.toBe(reason);
    const during = new AbortController();
    const pending = fetchText(`${base}/stall`, { signal: during.signal });
    setTimeout(() => during.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
  });

  it('sends only GET and HEAD without a body', async () => {
    await expect(fetchText(`${base}/text`, { method: 'POST', body: '{}' })).rejects.toThrow(/GET and HEAD/);
    const head = await fetchText(`${base}/text`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });
});

describe('TextResponse', () => {
  const make = () => textResponse('{"a":[1,2]}', { status: 200, headers: { 'content-type': 'application/json' } }, 'http://h/x', false);

  it('is a Response whose body reads once, as fetch bodies do', async () => {
    const res = make();
    expect(res).toBeInstanceOf(Response);
    expect(res.bodyUsed).toBe(false);
    expect(await res.text()).toBe('{"a":[1,2]}');
    expect(res.bodyUsed).toBe(true);
    await expect(res.text()).rejects.toThrow(TypeError);
    expect(() => res.clone()).toThrow(TypeError);
  });

  it('reads as JSON, bytes, a blob or a stream, and clones', async () => {
    expect(await make().json()).toEqual({ a: [1, 2] });
    expect(new TextDecoder().decode(await make().arrayBuffer())).toBe('{"a":[1,2]}');
    expect(await (await make().blob()).text()).toBe('{"a":[1,2]}');
    expect(await new Response(make().body).text()).toBe('{"a":[1,2]}');
    const res = make();
    const copy = res.clone();
    expect([await res.text(), await copy.text(), copy.url, copy.status]).toEqual(['{"a":[1,2]}', '{"a":[1,2]}', 'http://h/x', 200]);
  });
});

describe('textFetchOf', () => {
  it.each([
    ['sets a header on the request', ({ request }: { request: Request }) => void request.headers.set('x-middleware', 'yes')],
    ['replaces the request', ({ request }: { request: Request }) => new Request(request, { headers: { 'x-middleware': 'yes' } })],
  ])('sends what a middleware that %s built, batch reads over the transport and the rest over fetch', async (_, onRequest) => {
    const api = createApiClient({ baseUrl: base });
    api.raw.use({ onRequest });
    const batch = await api.batchText('s', 'sess', 0);
    expect(batch.data && JSON.parse(batch.data)).toEqual({ path: '/v1/stores/s/sync/sess/batches/0', middleware: 'yes' });
    expect(batch.response.constructor.name).toBe('TextResponse');
    const other = await api.raw.GET('/v1/stores/{storeId}', { params: { path: { storeId: 's' } } });
    expect(other.data).toEqual({ path: '/v1/stores/s', middleware: 'yes' });
    expect(other.response.constructor.name).toBe('Response');
  });

  it('takes batch reads over the transport on Node, unless a fetch was given', () => {
    expect(textFetchOf({ baseUrl: base })).toBeTypeOf('function');
    expect(textFetchOf({ baseUrl: base, fetch: (input, init) => fetch(input, init) })).toBeUndefined();
  });
});

describe('#text-transport', () => {
  it('resolves to the Node transport on Node only (Bun and Deno keep their own fetch)', async () => {
    const { build } = await import('esbuild');
    const resolved = async (platform: 'node' | 'browser', conditions: string[]) => {
      const out = await build({
        stdin: { contents: "export { fetchText } from '#text-transport';", resolveDir: new URL('../src', import.meta.url).pathname },
        bundle: true,
        write: false,
        platform,
        format: 'esm',
        conditions,
        metafile: true,
        logLevel: 'silent',
      });
      return Object.keys(out.metafile.inputs).filter((f) => f.includes('transport/'));
    };
    expect(await resolved('node', [])).toEqual(expect.arrayContaining([expect.stringMatching(/transport\/node\.js$/)]));
    expect(await resolved('node', ['keysync-source'])).toEqual(expect.arrayContaining([expect.stringMatching(/transport\/node\.ts$/)]));
    for (const runtime of ['bun', 'deno']) {
      expect(await resolved('node', ['keysync-source', runtime])).toEqual([expect.stringMatching(/transport\/none\.ts$/)]);
      expect(await resolved('node', [runtime])).toEqual([expect.stringMatching(/transport\/none\.js$/)]);
    }
    expect(await resolved('browser', ['keysync-source'])).toEqual([expect.stringMatching(/transport\/none\.ts$/)]);
  });
});
