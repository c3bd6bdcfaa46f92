/**
 * DNS rebinding: a web page whose own name resolves to 127.0.0.1 reaches an
 * open-mode server with its name in Host. Open mode serves loopback names
 * (and KEYSYNC_ALLOWED_HOSTS) only; admin-token mode is unaffected.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startServer, type TestServer } from '../support/server.js';

/** One request with an explicit Host header (fetch does not let a caller set it). */
function withHost(server: TestServer, host: string, method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const url = new URL(server.url);
  return new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { host, ...(body ? { 'content-type': 'application/json' } : {}), ...headers } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const CONFIG = JSON.stringify({ config: { scope: '00000000-0000-4000-8000-000000000000', name: 'rebinding' } });
const ADMIN = 'adversarial-admin-token-0123456789';

let db: TestDatabase;
let open: TestServer;
let listed: TestServer;
let guarded: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  open = await startServer(db);
  listed = await startServer(db, { allowedHosts: ['dev-box.local'] });
  guarded = await startServer(db, { adminToken: ADMIN });
}, 60_000);
afterAll(async () => {
  for (const s of [open, listed, guarded]) await s?.close();
  await db?.drop();
});

describe('open mode and the Host header', () => {
  it.each(['attacker.test', 'attacker.test:8787', '127.0.0.1.attacker.test', 'localhost.attacker.test', '[::2]:80', '10.0.0.1'])(
    'refuses Host %j with a 403 problem, for reads and writes',
    async (host) => {
      for (const [method, path, body] of [
        ['POST', '/v1/stores', CONFIG],
        ['GET', '/v1/stores', undefined],
        ['GET', '/healthz', undefined],
      ] as const) {
        const res = await withHost(open, host, method, path, body);
        expect(res.status, `${method} ${path}: ${res.body}`).toBe(403);
        expect(res.type).toMatch(/^application\/problem\+json/);
        expect(JSON.parse(res.body).detail).toMatch(/KEYSYNC_ALLOWED_HOSTS/);
      }
    },
  );

  it.each(['localhost', 'LOCALHOST:8787', '127.0.0.1', '127.0.0.1:1', '[::1]', '[::1]:8787'])('serves Host %j', async (host) => {
    expect((await withHost(open, host, 'POST', '/v1/stores', CONFIG)).status).toBeLessThan(300);
    expect((await withHost(open, host, 'GET', '/v1/stores')).status).toBe(200);
  });

  it('serves a name listed in KEYSYNC_ALLOWED_HOSTS, with any port, and still refuses others', async () => {
    expect((await withHost(listed, 'dev-box.local:8787', 'GET', '/v1/stores')).status).toBe(200);
    expect((await withHost(listed, 'DEV-BOX.local', 'GET', '/v1/stores')).status).toBe(200);
    expect((await withHost(listed, 'other.local', 'GET', '/v1/stores')).status).toBe(403);
  });

  it('leaves admin-token mode alone: any Host, the token decides', async () => {
    expect((await withHost(guarded, 'attacker.test', 'GET', '/v1/stores', undefined, { authorization: `Bearer ${ADMIN}` })).status).toBe(200);
    expect((await withHost(guarded, 'attacker.test', 'GET', '/v1/stores')).status).toBe(401);
  });
});
