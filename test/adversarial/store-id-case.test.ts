/**
 * One store, one id: an id in another letter case would reach the same rows
 * (PostgreSQL compares uuids by value) but not the same live feeds, caps and
 * notifications (keyed by text). Ids in a URL are taken only as the server
 * writes them, lower case; anything else is a 400 naming the parameter.
 */
import { describe, expect, it } from 'vitest';
import { call, json, newStore, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();

describe('store ids in another letter case', () => {
  it('are refused with 400 on every route that takes a store id', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'k', 1);
    const upper = storeId.toUpperCase();
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/v1/stores/${upper}`],
      ['PATCH', `/v1/stores/${upper}`, { options: {} }],
      ['DELETE', `/v1/stores/${upper}`],
      ['GET', `/v1/stores/${upper}/keys`],
      ['GET', `/v1/stores/${upper}/keys/k`],
      ['PUT', `/v1/stores/${upper}/keys/k`, 2],
      ['DELETE', `/v1/stores/${upper}/keys/k`],
      ['POST', `/v1/stores/${upper}/writes`, { ops: [{ op: 'put', key: 'k', value: 3 }] }],
      ['POST', `/v1/stores/${upper}/sync`, { have: {} }],
      ['GET', `/v1/stores/${upper}/events`],
      ['GET', `/v1/stores/${upper}/tokens`],
    ];
    for (const [method, path, body] of routes) {
      const res = await call(env.server, path, body === undefined ? { method } : json(body, { method }));
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.stringify(res.body.errors), `${method} ${path}`).toMatch(/storeId.*lower case/);
    }
    // Nothing reached the store: its value and head are as before.
    const value = await call(env.server, `/v1/stores/${storeId}/keys/k`);
    expect(value.body).toBe(1);
    expect((await call(env.server, `/v1/stores/${storeId}`)).body.headRev).toBe(1);
  });

  it('are refused for session ids too', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'k', 1);
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }));
    expect(hs.status).toBe(201);
    const res = await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId.toUpperCase()}/batches/0`);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.errors)).toMatch(/sessionId/);
  });
});
