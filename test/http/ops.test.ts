import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, json, keyPath, newStore, put } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import { REPO_ROOT } from '../support/process.js';
import { startServer, useTestServer } from '../support/server.js';

const env = useTestServer();

/** Every route of API.md, as OpenAPI path and method. */
const CONTRACT_ROUTES: Array<[string, string]> = [
  ['/healthz', 'get'],
  ['/readyz', 'get'],
  ['/metrics', 'get'],
  ['/v1/stores', 'post'],
  ['/v1/stores', 'get'],
  ['/v1/stores/{storeId}', 'get'],
  ['/v1/stores/{storeId}', 'patch'],
  ['/v1/stores/{storeId}', 'delete'],
  ['/v1/stores/{storeId}/keys/{key}', 'put'],
  ['/v1/stores/{storeId}/keys/{key}', 'get'],
  ['/v1/stores/{storeId}/keys/{key}', 'delete'],
  ['/v1/stores/{storeId}/writes', 'post'],
  ['/v1/stores/{storeId}/keys', 'get'],
  ['/v1/stores/{storeId}/sync', 'post'],
  ['/v1/stores/{storeId}/sync/{sessionId}/batches/{cursor}', 'get'],
  ['/v1/stores/{storeId}/sync/{sessionId}/ack', 'post'],
  ['/v1/stores/{storeId}/sync/{sessionId}', 'get'],
  ['/v1/stores/{storeId}/sync/{sessionId}', 'delete'],
  ['/v1/stores/{storeId}/events', 'get'],
  ['/v1/stores/{storeId}/tokens', 'post'],
];

describe('health', () => {
  it('answers /healthz with 200 {status: "ok"}', async () => {
    const res = await call(env.server, '/healthz');
    expect(res.status).toBe(200);
    expect(res.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 while the database answers, and 503 problem+json once the server is closing', async () => {
    const second = await startServer(env.db);
    try {
      const ready = await call(second, '/readyz');
      expect(ready.status).toBe(200);
      await second.keysync.close({ closeDatabase: false });
      expectProblem(await call(second, '/readyz'), 503, 'unavailable');
      expect((await call(second, '/healthz')).status).toBe(200);
      expect((await call(env.server, '/readyz')).status).toBe(200);
    } finally {
      await second.close();
    }
  });
});

describe('metrics', () => {
  it('serves Prometheus text with request and write counters that follow traffic', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'k', 1);
    await call(
      env.server,
      `/v1/stores/${id}/writes`,
      json({
        ops: [
          { op: 'put', key: 'a', value: 1 },
          { op: 'delete', key: 'k' },
        ],
      }),
    );
    const res = await env.server.fetch('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE keysync_http_requests_total counter$/m);
    expect(text).toMatch(/^keysync_http_requests_total\{[^}]*method="PUT"[^}]*status="200"[^}]*\} \d+/m);
    const writes = /^keysync_writes_total (\d+)$/m.exec(text);
    expect(writes).not.toBeNull();
    expect(Number(writes![1])).toBeGreaterThanOrEqual(3);
    for (const name of ['keysync_sync_sessions_total', 'keysync_live_subscribers', 'keysync_live_events_total']) expect(text).toContain(name);
  });

  it('labels requests by route pattern, never by key or store id', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'metric-secret-key', 1);
    const text = await (await env.server.fetch('/metrics')).text();
    expect(text).not.toContain('metric-secret-key');
    expect(text).not.toContain(id);
  });
});

describe('API documents', () => {
  it('serves an OpenAPI 3.1 document with every route of API.md', async () => {
    const res = await call(env.server, '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.openapi).toMatch(/^3\.1\./);
    const missing = CONTRACT_ROUTES.filter(([path, method]) => !res.body.paths?.[path]?.[method]);
    expect(missing).toEqual([]);
  });

  it('serves the same document as openapi/openapi.json in the repo', async () => {
    const committed = JSON.parse(readFileSync(join(REPO_ROOT, 'openapi', 'openapi.json'), 'utf8'));
    expect((await call(env.server, '/openapi.json')).body).toEqual(committed);
  });
});

describe('request logs', () => {
  const TOKEN = 'admin-token-for-log-test-0123456789';
  const SECRET_KEY = 'secret-key-name-zz9';
  const SECRET_VALUE = 'secret-value-qq7';

  it('writes one JSON line per request with method, route and status, and never the key, value or token', async () => {
    const lines: string[] = [];
    const logged = await startServer(env.db, { adminToken: TOKEN, log: (line) => lines.push(line) });
    try {
      const auth = { authorization: `Bearer ${TOKEN}` };
      const id = await (async () => {
        const res = await call(logged, '/v1/stores', json({ config: { scope: '00000000-0000-4000-8000-000000000000', log: 1 } }, { headers: auth }));
        expect(res.status).toBe(201);
        return res.body.storeId as string;
      })();
      const requests: Array<[string, string, number, RequestInit]> = [
        ['PUT', keyPath(id, SECRET_KEY), 200, json(SECRET_VALUE, { method: 'PUT', headers: auth })],
        ['GET', keyPath(id, SECRET_KEY), 200, { headers: auth }],
        ['GET', `/v1/stores/${id}/keys?prefix=${SECRET_KEY}`, 200, { headers: auth }],
        ['POST', `/v1/stores/${id}/writes`, 200, json({ ops: [{ op: 'put', key: `${SECRET_KEY}/2`, value: SECRET_VALUE }] }, { headers: auth })],
        ['DELETE', keyPath(id, SECRET_KEY), 200, { method: 'DELETE', headers: auth }],
        ['GET', keyPath(id, SECRET_KEY), 404, { headers: auth }],
        ['GET', keyPath(id, SECRET_KEY), 401, { headers: { authorization: `Bearer ${SECRET_VALUE}` } }],
        ['GET', `/nope/${SECRET_KEY}`, 404, {}],
      ];
      for (const [, path, status, init] of requests) expect((await call(logged, path, init)).status, path).toBe(status);
      expect(lines).toHaveLength(requests.length + 1);
      const parsed = lines.map((line) => {
        expect(line).not.toContain('\n');
        return JSON.parse(line) as { method: string; route: string; status: number };
      });
      expect(parsed[0]).toMatchObject({ method: 'POST', route: '/v1/stores', status: 201 });
      for (const [i, [method, , status]] of requests.entries()) {
        expect(parsed[i + 1]).toMatchObject({ method, status, route: expect.any(String) });
      }
      for (const line of lines) {
        expect(line).not.toContain(SECRET_KEY);
        expect(line).not.toContain(SECRET_VALUE);
        expect(line).not.toContain(TOKEN);
      }
    } finally {
      await logged.close();
    }
  });
});
