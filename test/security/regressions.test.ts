/**
 * Bugs found while hardening (fuzzing, outage and shutdown tests), pinned
 * down as plain examples so they cannot come back unnoticed.
 */
import { DrizzleQueryError } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/database-errors.js';
import { toProblem } from '../../src/http/error-mapping.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import type { TestServer } from '../support/server.js';
import { admin, adminStore, startSecured } from './support.js';

let db: TestDatabase;
let server: TestServer;
let storeId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  server = await startSecured(db);
  storeId = await adminStore(server);
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

describe('U+0000 in request strings (PostgreSQL text cannot hold it) is a 400, never a 500', () => {
  it.each([
    ['a key listing prefix', () => call(server, `/v1/stores/${storeId}/keys?prefix=%00`, { headers: admin })],
    ['a key listing cursor', () => call(server, `/v1/stores/${storeId}/keys?after=a%00`, { headers: admin })],
    [
      'a store config string',
      () => call(server, '/v1/stores', json({ config: { scope: '00000000-0000-4000-8000-000000000000', x: 'a\u0000b' } }, { headers: admin })),
    ],
    [
      'a filter prefix',
      () => call(server, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: ['\u0000'] } } }, { method: 'PATCH', headers: admin })),
    ],
    ['a handshake prefix', () => call(server, `/v1/stores/${storeId}/sync`, json({ have: {}, prefix: 'a\u0000' }, { headers: admin }))],
    ['a have key', () => call(server, `/v1/stores/${storeId}/sync`, json({ have: { 'a\u0000': '2026-01-01T00:00:00.000000Z' } }, { headers: admin }))],
    ['a JSON value', () => call(server, `/v1/stores/${storeId}/keys/nul`, json({ v: 'a\u0000b' }, { method: 'PUT', headers: admin }))],
  ])('%s', async (_what, send) => {
    const res = await send();
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
    if (res.status >= 400) expectProblem(res, 400);
  });

  it('a live feed prefix', async () => {
    const res = await call(server, `/v1/stores/${storeId}/events?prefix=a%00`, { headers: { ...admin, accept: 'text/event-stream' } });
    expectProblem(res, 400, 'validation');
  });
});

describe('database errors wrapped by drizzle', () => {
  it('are recognised as an unreachable database through the cause chain (503, not 500)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const wrapped = new DrizzleQueryError('select 1', [], refused);
    expect(isDatabaseUnavailable(wrapped)).toBe(true);
    expect(toProblem(wrapped).status).toBe(503);
    for (const code of ['57P01', '57P03', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', '08006', '53300']) {
      expect(isDatabaseUnavailable(new DrizzleQueryError('q', [], Object.assign(new Error(code), { code }))), code).toBe(true);
    }
    expect(isDatabaseUnavailable(new DrizzleQueryError('q', [], Object.assign(new Error('unique'), { code: '23505' })))).toBe(false);
  });
});

describe('keep-alive after an early refusal', () => {
  it('closes the connection when an error is answered before the request body was read', async () => {
    const res = await server.fetch(`/v1/stores/${storeId}/keys/k`, {
      method: 'PUT',
      headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
      body: JSON.stringify('x'.repeat(100_000)),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('connection')).toBe('close');
    await res.arrayBuffer();
    // A request whose body was read keeps the connection.
    const ok = await server.fetch(`/v1/stores/${storeId}/keys/k`, { method: 'PUT', headers: { ...admin, 'content-type': 'application/json' }, body: '1' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('connection')).not.toBe('close');
  });
});
