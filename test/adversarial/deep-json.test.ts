/**
 * Deep JSON: one nesting limit (KEYSYNC_MAX_JSON_DEPTH, default 256) on
 * every route that takes JSON, answered with a 400 that names it before any
 * recursive code runs; JSON within the limit is accepted everywhere.
 * Before the limit, a 5,000-deep value in a bulk answered 500 (JSON.stringify
 * overflowed), a 5,000-deep config 500 on PostgreSQL, and a PUT 400 "Malformed JSON".
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readEnv, limitsFrom } from '../../src/env.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { call, json, keyPath, newStore } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import { useTestServer } from '../support/server.js';

const LIMIT = DEFAULT_LIMITS.maxJsonDepth;
const env = useTestServer();
let storeId: string;
let sessionId: string;
beforeAll(async () => {
  storeId = await newStore(env.server);
  sessionId = (await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }))).body.sessionId;
});

/** A JSON text nesting `n` objects and arrays, alternating, around 1. */
const nested = (n: number) => {
  let open = '';
  let close = '';
  for (let i = 0; i < n; i++) {
    open += i % 2 ? '[' : '{"a":';
    close = (i % 2 ? ']' : '}') + close;
  }
  return open + '1' + close;
};

const send = (method: string, path: string, body: string) => call(env.server, path, { method, headers: { 'content-type': 'application/json' }, body });
const scope = '00000000-0000-4000-8000-000000000000';
let n = 0;

/** Each route that takes JSON, with the body carrying a value, config or options of the given text. */
const bodies: Array<[string, string, () => string, (inner: string) => string]> = [
  ['a value (PUT)', 'PUT', () => keyPath(storeId, `v${++n}`), (v) => v],
  ['a value in a bulk', 'POST', () => `/v1/stores/${storeId}/writes`, (v) => `{"ops":[{"op":"put","key":"b${++n}","value":${v}}]}`],
  ['a config', 'POST', () => '/v1/stores', (v) => `{"config":{"scope":"${scope}","n":${++n},"deep":${v}}}`],
  ['options', 'PATCH', () => `/v1/stores/${storeId}`, (v) => `{"options":${v}}`],
  ['a handshake', 'POST', () => `/v1/stores/${storeId}/sync`, (v) => `{"have":{},"x":${v}}`],
  ['an ack', 'POST', () => `/v1/stores/${storeId}/sync/${sessionId}/ack`, (v) => `{"cursor":0,"x":${v}}`],
  ['a token request', 'POST', () => `/v1/stores/${storeId}/tokens`, (v) => `{"scope":"read","x":${v}}`],
];

describe(`JSON nested deeper than ${LIMIT} levels`, () => {
  for (const [what, method, path, wrap] of bodies) {
    it(`in ${what}: 400 json-too-deep naming the limit, at one level over and at 5,000`, async () => {
      // Ack and token bodies are capped at 4 KiB: their deep text is arrays only.
      const small = what === 'an ack' || what === 'a token request';
      for (const depth of small ? [LIMIT + 1, 1900] : [LIMIT + 1, 5000]) {
        const inner = small ? '['.repeat(depth) + ']'.repeat(depth) : nested(depth);
        const res = await send(method, path(), wrap(inner));
        const problem = expectProblem(res, 400, 'json-too-deep');
        expect(problem.detail).toContain(`at most ${LIMIT} arrays and objects (KEYSYNC_MAX_JSON_DEPTH)`);
      }
    });
  }

  it('wrote nothing and registered nothing', async () => {
    expect((await call(env.server, `/v1/stores/${storeId}`)).body.headRev).toBe(0);
    const stores = await call(env.server, '/v1/stores?limit=1000');
    expect(stores.body.items.some((s: { config: { deep?: unknown } }) => s.config.deep !== undefined)).toBe(false);
  });
});

describe(`JSON nested exactly ${LIMIT} levels is accepted everywhere`, () => {
  it('as a value by PUT and in a bulk, read back exactly', async () => {
    const value = nested(LIMIT);
    const put = await send('PUT', keyPath(storeId, 'deep-put'), value);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const bulk = await send('POST', `/v1/stores/${storeId}/writes`, `{"ops":[{"op":"put","key":"deep-bulk","value":${value}}]}`);
    expect(bulk.status, JSON.stringify(bulk.body)).toBe(200);
    for (const key of ['deep-put', 'deep-bulk']) expect(await (await env.server.fetch(keyPath(storeId, key))).text()).toBe(value);
  });

  it('synced in a batch', async () => {
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }));
    expect(hs.status).toBe(201);
    const batch = await (await env.server.fetch(`/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/0`)).text();
    expect(batch).toContain(`"value":${nested(LIMIT)}}`);
  });

  it('as a config (registered) and inside options (then refused by their schema, not by depth)', async () => {
    const config = await send('POST', '/v1/stores', `{"config":{"scope":"${scope}","deep":${nested(LIMIT - 1)}}}`);
    expect(config.status, JSON.stringify(config.body)).toBe(201);
    const options = await send('PATCH', `/v1/stores/${storeId}`, `{"options":${nested(LIMIT)}}`);
    expectProblem(options, 400, 'validation');
  });

  it('inside a handshake, an ack and a token request (refused as unknown fields, not by depth)', async () => {
    const inner = '['.repeat(LIMIT) + ']'.repeat(LIMIT);
    for (const [, method, path, wrap] of bodies.slice(4)) expectProblem(await send(method, path(), wrap(inner)), 400, 'validation');
  });
});

describe('KEYSYNC_MAX_JSON_DEPTH', () => {
  it('defaults to 256 and takes a whole number from 1 to 1000', () => {
    expect(LIMIT).toBe(256);
    expect(limitsFrom(readEnv({ KEYSYNC_MAX_JSON_DEPTH: '64' })).maxJsonDepth).toBe(64);
    for (const bad of ['0', '1001', '-1', '1e2', 'x']) expect(() => readEnv({ KEYSYNC_MAX_JSON_DEPTH: bad }), bad).toThrow(/KEYSYNC_MAX_JSON_DEPTH/);
  });
});

describe('a lower limit', () => {
  const low = useTestServer({ limits: { maxJsonDepth: 3 } });
  it('applies to values and bodies alike', async () => {
    const id = await newStore(low.server);
    expect((await call(low.server, keyPath(id, 'a'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '[[[1]]]' })).status).toBe(200);
    const over = await call(low.server, keyPath(id, 'a'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '[[[[1]]]]' });
    expect(expectProblem(over, 400, 'json-too-deep').detail).toContain('at most 3 arrays and objects');
    const bulk = (v: string) =>
      call(low.server, `/v1/stores/${id}/writes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"ops":[{"op":"put","key":"b","value":${v}}]}`,
      });
    expect((await bulk('[[[1]]]')).status).toBe(200);
    expectProblem(await bulk('[[[[1]]]]'), 400, 'json-too-deep');
  });
});
