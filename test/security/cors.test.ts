/**
 * CORS: only configured origins may read answers from a browser; preflights
 * need no token; the headers clients need are exposed, on errors too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { openFeed } from '../support/sse.js';
import type { TestServer } from '../support/server.js';
import { admin, adminStore, startSecured } from './support.js';

const APP = 'https://app.example.com';

let db: TestDatabase;
let server: TestServer;
let plain: TestServer;
let storeId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  server = await startSecured(db, { corsOrigins: [APP, 'http://localhost:3000'] });
  plain = await startSecured(db);
  storeId = await adminStore(server);
  expect((await call(server, `/v1/stores/${storeId}/keys/k`, json(1, { method: 'PUT', headers: admin }))).status).toBe(200);
});
afterAll(async () => {
  await server?.close();
  await plain?.close();
  await db?.drop();
});

const preflight = (s: TestServer, origin: string, method = 'PUT') =>
  s.fetch(`/v1/stores/${storeId}/keys/k`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type, if-match' },
  });
const list = (h: string | null) =>
  (h ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

describe('CORS', () => {
  it('answers a preflight from an allowed origin without a token, allowing the protocol headers', async () => {
    const res = await preflight(server, APP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(list(res.headers.get('access-control-allow-methods'))).toEqual(expect.arrayContaining(['get', 'put', 'post', 'patch', 'delete']));
    expect(list(res.headers.get('access-control-allow-headers'))).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'if-match', 'if-none-match', 'last-event-id']),
    );
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('exposes ETag, X-Keysync-Rev, X-Keysync-Ts and Retry-After to the allowed origin, on successes and on problems', async () => {
    const ok = await server.fetch(`/v1/stores/${storeId}/keys/k`, { headers: { ...admin, origin: APP } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(list(ok.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(['etag', 'x-keysync-rev', 'x-keysync-ts', 'retry-after']));
    const denied = await server.fetch(`/v1/stores/${storeId}/keys/k`, { headers: { origin: APP } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(denied.headers.get('access-control-allow-origin')).toBe(APP);
    const missing = await server.fetch('/nope', { headers: { origin: APP } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('lets the allowed origin read a live feed (its head is written by the feed itself)', async () => {
    const feed = await openFeed(server, storeId, '?since=0', { headers: { ...admin, origin: APP } });
    try {
      expect(feed.status).toBe(200);
      expect(feed.headers.get('access-control-allow-origin')).toBe(APP);
      expect(list(feed.headers.get('vary'))).toContain('origin');
      expect(feed.headers.get('content-type')).toBe('text/event-stream');
      expect(feed.headers.get('cache-control')).toBe('no-cache');
      await feed.waitFor((f) => f.events.some((e) => e.event === 'ready'));
      expect(feed.events.map((e) => e.event)).toEqual(['put', 'ready']);
      await call(server, `/v1/stores/${storeId}/keys/k2`, json(2, { method: 'PUT', headers: admin }));
      await feed.waitFor((f) => f.events.some((e) => e.event === 'put' && e.data.key === 'k2'));
    } finally {
      feed.close();
    }
  });

  it('gives other origins nothing a browser would accept', async () => {
    const pre = await preflight(server, 'https://evil.example');
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const res = await server.fetch(`/v1/stores/${storeId}/keys/k`, { headers: { ...admin, origin: 'https://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('is off by default: no CORS headers, and OPTIONS is not a route (problem+json)', async () => {
    const pre = await preflight(plain, APP);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect([404, 405]).toContain(pre.status);
    expect(pre.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const res = await plain.fetch(`/v1/stores/${storeId}/keys/k`, { headers: { ...admin, origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
