import { beforeAll, describe, expect, it } from 'vitest';
import { call, json, keyPath, newStore, put } from '../support/http.js';
import { expectProblem, expectValidation } from '../support/problem.js';
import { useTestServer } from '../support/server.js';

let storeId: string;
const MAX_VALUE = 1024;
const MAX_BODY = 8192;
const env = useTestServer({ limits: { maxValueBytes: MAX_VALUE, maxBodyBytes: MAX_BODY, maxBulkOps: 3 } });
beforeAll(async () => {
  storeId = await newStore(env.server);
  await put(env.server, storeId, 'existing', { v: 1 });
});

const UNKNOWN_STORE = '11111111-2222-4333-8444-555555555555';
const SESSION = '99999999-8888-4777-8666-555555555555';
const headRev = async () => (await call(env.server, `/v1/stores/${storeId}`)).body.headRev as number;

describe('bad keys', () => {
  it('rejects a key longer than 1024 bytes with 400 on PUT, GET and DELETE', async () => {
    for (const key of ['k'.repeat(1025), 'é'.repeat(513)]) {
      expectValidation(await call(env.server, keyPath(storeId, key), json(1, { method: 'PUT' })), 'key');
      expectValidation(await call(env.server, keyPath(storeId, key)), 'key');
      expectValidation(await call(env.server, keyPath(storeId, key), { method: 'DELETE' }), 'key');
    }
  });

  it('rejects a key that is not valid percent-encoded UTF-8 with 400 on PUT, GET and DELETE', async () => {
    const before = await headRev();
    for (const raw of ['%ZZ', 'abc%', 'a%2', '%FF', '%C3%28', '%ED%A0%80', '%E2%82']) {
      const path = `/v1/stores/${storeId}/keys/${raw}`;
      expectValidation(await call(env.server, path, json(1, { method: 'PUT' })), 'key');
      expectValidation(await call(env.server, path), 'key');
      expectValidation(await call(env.server, path, { method: 'DELETE' }), 'key');
    }
    expect(await headRev()).toBe(before);
  });

  it('rejects a key holding U+0000 with 400', async () => {
    expectValidation(await call(env.server, `/v1/stores/${storeId}/keys/a%00b`, json(1, { method: 'PUT' })), 'key');
  });

  it('rejects an empty key in a bulk op with 400', async () => {
    expectValidation(await call(env.server, `/v1/stores/${storeId}/writes`, json({ ops: [{ op: 'delete', key: '' }] })), 'ops.0.key');
  });
});

describe('bodies too large', () => {
  it('rejects a JSON value larger than the value limit with 413 and accepts one at the limit', async () => {
    const atLimit = JSON.stringify('x'.repeat(MAX_VALUE - 2));
    expect((await call(env.server, keyPath(storeId, 'big'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: atLimit })).status).toBe(
      200,
    );
    const before = await headRev();
    const over = JSON.stringify('x'.repeat(MAX_VALUE - 1));
    expectProblem(
      await call(env.server, keyPath(storeId, 'big'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: over }),
      413,
      'payload-too-large',
    );
    expect(await headRev()).toBe(before);
  });

  it('rejects a byte value larger than the value limit with 413', async () => {
    const res = await call(env.server, keyPath(storeId, 'big-bytes'), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array(MAX_VALUE + 1),
    });
    expectProblem(res, 413, 'payload-too-large');
    expectProblem(await call(env.server, keyPath(storeId, 'big-bytes')), 404);
  });

  it('rejects a streamed (chunked) value larger than the limit with 413', async () => {
    const chunk = new Uint8Array(512);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await call(env.server, keyPath(storeId, 'big-stream'), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    expectProblem(res, 413, 'payload-too-large');
    expectProblem(await call(env.server, keyPath(storeId, 'big-stream')), 404);
  });

  it('rejects JSON request bodies larger than the body limit with 413 on every JSON route', async () => {
    const huge = 'x'.repeat(MAX_BODY + 1);
    const scope = '00000000-0000-4000-8000-000000000000';
    expectProblem(await call(env.server, '/v1/stores', json({ config: { scope, pad: huge } })), 413, 'payload-too-large');
    expectProblem(
      await call(env.server, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: [huge] } } }, { method: 'PATCH' })),
      413,
      'payload-too-large',
    );
    expectProblem(await call(env.server, `/v1/stores/${storeId}/writes`, json({ ops: [{ op: 'put', key: 'a', value: huge }] })), 413, 'payload-too-large');
    expectProblem(await call(env.server, `/v1/stores/${storeId}/sync/${SESSION}/ack`, json({ cursor: 0, pad: huge })), 413, 'payload-too-large');
  });
});

describe('malformed requests', () => {
  it('rejects malformed JSON with 400 on every JSON body', async () => {
    const bad = (path: string, method = 'POST') => call(env.server, path, { method, headers: { 'content-type': 'application/json' }, body: '{"a": ' });
    const before = await headRev();
    expectProblem(await bad(keyPath(storeId, 'existing'), 'PUT'), 400);
    expectProblem(await bad('/v1/stores'), 400);
    expectProblem(await bad(`/v1/stores/${storeId}`, 'PATCH'), 400);
    expectProblem(await bad(`/v1/stores/${storeId}/writes`), 400);
    expectProblem(await bad(`/v1/stores/${storeId}/sync`), 400);
    expectProblem(await bad(`/v1/stores/${storeId}/sync/${SESSION}/ack`), 400);
    expect(await headRev()).toBe(before);
    expect(await (await env.server.fetch(keyPath(storeId, 'existing'))).json()).toEqual({ v: 1 });
  });

  it('rejects an empty JSON body with 400', async () => {
    expectProblem(await call(env.server, keyPath(storeId, 'empty'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '' }), 400);
    expectProblem(await call(env.server, '/v1/stores', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' }), 400);
  });

  it('rejects a JSON body of the wrong type with 400', async () => {
    for (const body of [null, [], 42, 'text']) {
      expectProblem(await call(env.server, '/v1/stores', json(body)), 400);
      expectProblem(await call(env.server, `/v1/stores/${storeId}/writes`, json(body)), 400);
      expectProblem(await call(env.server, `/v1/stores/${storeId}/sync`, json(body)), 400);
    }
  });

  it('answers 415 for a body that is not application/json on JSON routes', async () => {
    const as = (path: string, type: string | undefined, body: string, method = 'POST') =>
      call(env.server, path, { method, headers: type ? { 'content-type': type } : {}, body });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      expectProblem(
        await as('/v1/stores', type, JSON.stringify({ config: { scope: '00000000-0000-4000-8000-000000000000', t: 415 } })),
        415,
        'unsupported-media-type',
      );
      expectProblem(await as(`/v1/stores/${storeId}`, type, JSON.stringify({ options: {} }), 'PATCH'), 415, 'unsupported-media-type');
      expectProblem(
        await as(`/v1/stores/${storeId}/writes`, type, JSON.stringify({ ops: [{ op: 'put', key: 'a', value: 1 }] })),
        415,
        'unsupported-media-type',
      );
      expectProblem(await as(`/v1/stores/${storeId}/sync`, type, JSON.stringify({ have: {} })), 415, 'unsupported-media-type');
      expectProblem(await as(`/v1/stores/${storeId}/sync/${SESSION}/ack`, type, JSON.stringify({ cursor: 0 })), 415, 'unsupported-media-type');
    }
    expectProblem(await call(env.server, `/v1/stores/${storeId}/keys/a`), 404);
  });

  it('rejects unknown fields in JSON bodies with 400', async () => {
    const scope = '00000000-0000-4000-8000-000000000000';
    expectProblem(await call(env.server, '/v1/stores', json({ config: { scope, t: 'unknown' }, extra: 1 })), 400);
    expectProblem(await call(env.server, '/v1/stores', json({ config: { scope, t: 'unknown2' }, options: { bogus: 1 } })), 400);
    expectProblem(await call(env.server, `/v1/stores/${storeId}`, json({ options: {}, extra: 1 }, { method: 'PATCH' })), 400);
    expectProblem(await call(env.server, `/v1/stores/${storeId}/writes`, json({ ops: [{ op: 'delete', key: 'a' }], extra: 1 })), 400);
    expectProblem(await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {}, extra: 1 })), 400);
    expectProblem(await call(env.server, `/v1/stores/${storeId}/sync`, json({ since: 0, have: {} })), 400);
    for (const have of [[], null, 'x', { a: 1 }, { a: null }, { a: 't'.repeat(65) }, { a: { b: 'c' } }]) {
      const bad = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have }));
      expectProblem(bad, 400);
      expect(JSON.stringify(bad.body.errors), JSON.stringify(have)).toContain('have');
    }
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }));
    expect(hs.status).toBe(201);
    expectProblem(await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/ack`, json({ cursor: 0, extra: 1 })), 400);
  });

  it('rejects a bulk with more ops than the limit with 400', async () => {
    const ops = Array.from({ length: 4 }, (_, i) => ({ op: 'put', key: `k${i}`, value: i }));
    expectValidation(await call(env.server, `/v1/stores/${storeId}/writes`, json({ ops })), 'ops');
  });

  it('rejects a malformed If-Match with 400 and writes nothing', async () => {
    const before = await headRev();
    for (const tag of ['abc', '"x"', '"-1"', '"1.5"', '""']) {
      expectValidation(await call(env.server, keyPath(storeId, 'existing'), json(2, { method: 'PUT', headers: { 'if-match': tag } })), 'If-Match');
      expectValidation(await call(env.server, keyPath(storeId, 'existing'), { method: 'DELETE', headers: { 'if-match': tag } }), 'If-Match');
    }
    expect(await headRev()).toBe(before);
  });

  it('rejects a malformed Last-Event-ID or since on the live feed with 400', async () => {
    const feed = (query: string, headers: Record<string, string> = {}) =>
      call(env.server, `/v1/stores/${storeId}/events${query}`, { headers: { accept: 'text/event-stream', ...headers } });
    expectValidation(await feed('', { 'last-event-id': 'abc' }), 'last-event-id');
    expectValidation(await feed('', { 'last-event-id': '-1' }), 'last-event-id');
    expectValidation(await feed('', { 'last-event-id': '1.5' }), 'last-event-id');
    expectValidation(await feed('?since=abc'), 'since');
    expectValidation(await feed('?since=-1'), 'since');
    expectValidation(await feed(`?prefix=${'p'.repeat(1025)}`), 'prefix');
  });

  it('rejects bad list parameters with 400', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=x']) expectValidation(await call(env.server, `/v1/stores/${storeId}/keys?${q}`), 'limit');
  });

  it('rejects a sync session id or cursor of the wrong form with 400', async () => {
    expectValidation(await call(env.server, `/v1/stores/${storeId}/sync/not-a-uuid`), 'sessionId');
    expectValidation(await call(env.server, `/v1/stores/${storeId}/sync/${SESSION}/batches/x`), 'cursor');
    expectValidation(await call(env.server, `/v1/stores/${storeId}/sync/${SESSION}/batches/-1`), 'cursor');
  });
});

describe('store ids', () => {
  const routes = (id: string): Array<[string, string, RequestInit?]> => [
    ['GET', `/v1/stores/${id}`],
    ['PATCH', `/v1/stores/${id}`, json({ options: {} }, { method: 'PATCH' })],
    ['DELETE', `/v1/stores/${id}`, { method: 'DELETE' }],
    ['PUT', `/v1/stores/${id}/keys/a`, json(1, { method: 'PUT' })],
    ['PUT bytes', `/v1/stores/${id}/keys/a`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'x' }],
    ['GET', `/v1/stores/${id}/keys/a`],
    ['DELETE', `/v1/stores/${id}/keys/a`, { method: 'DELETE' }],
    ['GET', `/v1/stores/${id}/keys`],
    ['POST', `/v1/stores/${id}/writes`, json({ ops: [{ op: 'put', key: 'a', value: 1 }] })],
    ['POST', `/v1/stores/${id}/sync`, json({ have: {} })],
    ['POST', `/v1/stores/${id}/sync`, json({ since: 0 })],
    ['GET', `/v1/stores/${id}/sync/${SESSION}`],
    ['DELETE', `/v1/stores/${id}/sync/${SESSION}`, { method: 'DELETE' }],
    ['GET', `/v1/stores/${id}/sync/${SESSION}/batches/0`],
    ['POST', `/v1/stores/${id}/sync/${SESSION}/ack`, json({ cursor: 0 })],
    ['GET', `/v1/stores/${id}/events`, { headers: { accept: 'text/event-stream' } }],
    ['POST', `/v1/stores/${id}/tokens`, json({ scope: 'read' })],
  ];

  it('rejects a store id that is not a UUID with 400 on every store route', async () => {
    for (const [method, path, init] of routes('not-a-uuid')) {
      const res = await call(env.server, path, init);
      expect(res.status, `${method} ${path}`).toBe(400);
      expectValidation(res, 'storeId');
    }
  });

  it('answers 404 for an unknown store on every store route', async () => {
    for (const [method, path, init] of routes(UNKNOWN_STORE)) {
      const res = await call(env.server, path, init);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(404);
      expectProblem(res, 404, 'not-found');
    }
    expectProblem(await call(env.server, `/v1/stores/${UNKNOWN_STORE}`), 404);
  });
});

describe('routes and methods', () => {
  it('answers 404 problem+json for unknown routes', async () => {
    for (const path of [
      '/',
      '/nope',
      '/v1',
      '/v1/nope',
      '/v2/stores',
      `/v1/stores/${storeId}/bogus`,
      `/v1/stores/${storeId}/sync/${SESSION}/bogus`,
      '/healthz/extra',
    ]) {
      const res = await call(env.server, path);
      expectProblem(res, 404, 'not-found');
      expect(typeof res.body === 'object' && !/<html/i.test(JSON.stringify(res.body))).toBe(true);
    }
  });

  it('answers 405 problem+json with an Allow header for a method the route does not have', async () => {
    const cases: Array<[string, string, string[]]> = [
      ['POST', '/healthz', ['GET']],
      ['DELETE', '/readyz', ['GET']],
      ['PUT', '/metrics', ['GET']],
      ['POST', '/openapi.json', ['GET']],
      ['PUT', '/v1/stores', ['GET', 'POST']],
      ['DELETE', '/v1/stores', ['GET', 'POST']],
      ['POST', `/v1/stores/${storeId}`, ['DELETE', 'GET', 'PATCH']],
      ['PATCH', `/v1/stores/${storeId}/keys/a`, ['DELETE', 'GET', 'PUT']],
      ['POST', `/v1/stores/${storeId}/keys/a%2Fb`, ['DELETE', 'GET', 'PUT']],
      ['POST', `/v1/stores/${storeId}/keys`, ['GET']],
      ['GET', `/v1/stores/${storeId}/writes`, ['POST']],
      ['GET', `/v1/stores/${storeId}/sync`, ['POST']],
      ['POST', `/v1/stores/${storeId}/events`, ['GET']],
      ['GET', `/v1/stores/${storeId}/sync/${SESSION}/ack`, ['POST']],
      ['POST', `/v1/stores/${storeId}/sync/${SESSION}/batches/0`, ['GET']],
    ];
    for (const [method, path, allowed] of cases) {
      const res = await call(env.server, path, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
      expectProblem(res, 405, 'method-not-allowed');
      const allow = (res.res.headers.get('allow') ?? '')
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean);
      for (const m of allowed) expect(allow, `${method} ${path}`).toContain(m);
      expect(allow, `${method} ${path}`).not.toContain(method);
    }
  });

  it('never answers 5xx or non-problem bodies for a spread of bad input', async () => {
    const inputs: Array<[string, RequestInit?]> = [
      [`/v1/stores/${storeId}/keys/${'%'.repeat(10)}`],
      [`/v1/stores/${storeId}/keys/%F0%9F%98`],
      [`/v1/stores/${storeId}/keys?prefix=%FF`],
      [`/v1/stores/${storeId}/keys?after=${'a'.repeat(5000)}`],
      [`/v1/stores/${storeId}/keys/x`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '\u0000' }],
      [`/v1/stores/${storeId}/keys/x`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '"\\u0000"' }],
      [`/v1/stores/${storeId}/keys/x`, { method: 'PUT', headers: { 'content-type': 'application/json', 'if-match': '"99999999999999999999"' }, body: '1' }],
      [`/v1/stores/${storeId}/writes`, json({ ops: [{ op: 'put', key: 'a', value: '\u0000' }] })],
      [`/v1/stores/${storeId}/writes`, json({ ops: [{ op: 'put', key: 'a\u0000b', value: 1 }] })],
      [`/v1/stores/${storeId}/writes`, json({ ops: [{ op: 'put', key: '\ud800', value: 1 }] })],
      [`/v1/stores/${storeId}/sync`, json({ since: 1e300 })],
      [`/v1/stores/${storeId}/sync`, json({ since: -1 })],
      [`/v1/stores/${storeId}/sync`, json({ have: { a: 'not-a-ts' } })],
      [`/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 0 })],
      [`/v1/stores/${storeId}/sync/${SESSION}/batches/99999999999`],
      ['/v1/stores', json({ config: { scope: '00000000-0000-4000-8000-000000000000', x: '\u0000' } })],
      ['/v1/stores?after=not-a-uuid'],
      [`/v1/stores/${storeId}/events?since=${Number.MAX_SAFE_INTEGER + 10}`, { headers: { accept: 'text/event-stream' } }],
    ];
    for (const [path, init] of inputs) {
      const res = await env.server.fetch(path, init);
      const text = await res.text();
      const where = `${init?.method ?? 'GET'} ${path.slice(0, 120)} -> ${res.status} ${text.slice(0, 200)}`;
      expect(res.status, where).toBeLessThan(500);
      if (res.status >= 400) {
        expect(res.headers.get('content-type'), where).toMatch(/^application\/problem\+json/);
        expect(text, where).not.toMatch(/\n\s+at /);
      }
    }
  });
});
