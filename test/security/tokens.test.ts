/**
 * Store tokens: issued once, stored as hashes, scoped to one store, listed
 * without secrets, revoked at once (live feeds included, on every instance).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, SyncClient, TokenRevokedError } from '../../clients/typescript/src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import { startServer, type TestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { ADMIN, admin, adminStore, bearer, issueToken, revokeToken, startSecured } from './support.js';

let db: TestDatabase;
let server: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  server = await startSecured(db);
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('issuing tokens', () => {
  it('returns the secret once (32 random bytes, base64url) and stores only its SHA-256', async () => {
    const storeId = await adminStore(server);
    const issued = await issueToken(server, storeId, 'write');
    expect(issued).toEqual({
      id: expect.any(String),
      token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      scope: 'write',
      createdAt: expect.stringMatching(TS),
    });
    expect(Buffer.from(issued.token, 'base64url')).toHaveLength(32);
    const rows = await db.database.rows<Record<string, unknown>>('select * from tokens where store_id = $1', [storeId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!['hash']).toBe(createHash('sha256').update(issued.token).digest('hex'));
    expect(JSON.stringify(rows)).not.toContain(issued.token);

    const second = await issueToken(server, storeId, 'write');
    expect(second.token).not.toBe(issued.token);
  });

  it('lists tokens without secrets, oldest first', async () => {
    const storeId = await adminStore(server);
    const a = await issueToken(server, storeId, 'read');
    const b = await issueToken(server, storeId, 'write');
    const list = await call(server, `/v1/stores/${storeId}/tokens`, { headers: admin });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      items: [
        { id: a.id, scope: 'read', createdAt: a.createdAt },
        { id: b.id, scope: 'write', createdAt: b.createdAt },
      ],
    });
    expect(JSON.stringify(list.body)).not.toContain(a.token);
  });

  it('refuses bad scopes, unknown fields and unknown stores as problem+json', async () => {
    const storeId = await adminStore(server);
    expectProblem(await call(server, `/v1/stores/${storeId}/tokens`, json({ scope: 'admin' }, { headers: admin })), 400, 'validation');
    expectProblem(await call(server, `/v1/stores/${storeId}/tokens`, json({ scope: 'read', extra: 1 }, { headers: admin })), 400, 'validation');
    expectProblem(
      await call(server, `/v1/stores/${storeId}/tokens`, { method: 'POST', headers: { ...admin, 'content-type': 'text/plain' }, body: 'read' }),
      415,
    );
    const missing = '11111111-1111-5111-8111-111111111111';
    expectProblem(await call(server, `/v1/stores/${missing}/tokens`, json({ scope: 'read' }, { headers: admin })), 404, 'not-found');
    expectProblem(await call(server, `/v1/stores/${missing}/tokens`, { headers: admin }), 404, 'not-found');
    expectProblem(await call(server, `/v1/stores/${storeId}/tokens/not-a-uuid`, { method: 'DELETE', headers: admin }), 400, 'validation');
    expectProblem(await call(server, `/v1/stores/${storeId}/tokens/${missing}`, { method: 'DELETE', headers: admin }), 404, 'not-found');
  });
});

describe('using tokens', () => {
  it('a read token reads, syncs and follows; a write token also writes; neither works on another store', async () => {
    const storeId = await adminStore(server);
    const other = await adminStore(server);
    const read = bearer((await issueToken(server, storeId, 'read')).token);
    const write = bearer((await issueToken(server, storeId, 'write')).token);
    const put = (headers: Record<string, string>, id = storeId) => call(server, `/v1/stores/${id}/keys/k`, json(1, { method: 'PUT', headers }));
    expect((await put(write)).status).toBe(200);
    expectProblem(await put(read), 403, 'forbidden');
    expect((await call(server, `/v1/stores/${storeId}/keys/k`, { headers: read })).status).toBe(200);
    expect((await call(server, `/v1/stores/${storeId}/keys/k`, { headers: write })).status).toBe(200);
    expect((await call(server, `/v1/stores/${storeId}/sync`, json({ have: {} }, { headers: read }))).status).toBe(201);
    expectProblem(await put(write, other), 403, 'forbidden');
    expectProblem(await call(server, `/v1/stores/${other}/keys/k`, { headers: read }), 403, 'forbidden');
  });

  it('accepts the scheme in any case and refuses malformed Authorization headers with 401', async () => {
    const storeId = await adminStore(server);
    const { token } = await issueToken(server, storeId, 'read');
    const get = (authorization: string) => call(server, `/v1/stores/${storeId}`, { headers: { authorization } });
    expect((await get(`bearer ${token}`)).status).toBe(200);
    for (const bad of [token, `Basic ${token}`, `Bearer`, `Bearer ${token} extra`, `Bearer ${token.slice(1)}`, `Bearer ${ADMIN}x`]) {
      expectProblem(await get(bad), 401, 'unauthorized');
    }
  });

  it('stops working at once when revoked, and when its store is deleted (even if the store comes back)', async () => {
    const config = { scope: '00000000-0000-4000-8000-00000000beef', name: `comeback-${Math.random()}` };
    const register = () => call(server, '/v1/stores', json({ config }, { headers: admin }));
    const storeId = (await register()).body.storeId as string;
    const a = await issueToken(server, storeId, 'read');
    const b = await issueToken(server, storeId, 'read');
    await revokeToken(server, storeId, a.id);
    expectProblem(await call(server, `/v1/stores/${storeId}`, { headers: bearer(a.token) }), 401, 'unauthorized');
    expect((await call(server, `/v1/stores/${storeId}`, { headers: bearer(b.token) })).status).toBe(200);
    expectProblem(await call(server, `/v1/stores/${storeId}/tokens/${a.id}`, { method: 'DELETE', headers: admin }), 404, 'not-found');

    expect((await call(server, `/v1/stores/${storeId}`, { method: 'DELETE', headers: admin })).status).toBe(204);
    expect((await register()).status).toBe(201);
    expectProblem(await call(server, `/v1/stores/${storeId}`, { headers: bearer(b.token) }), 401, 'unauthorized');
  });
});

describe('revoking a token with open live feeds', () => {
  it('ends the feeds it opened with `event: revoked`, on this instance and another one, and leaves other feeds open', async () => {
    const second = await startServer(db, { adminToken: ADMIN }); // another instance on the same database
    try {
      const storeId = await adminStore(server);
      const doomed = await issueToken(server, storeId, 'read');
      const kept = await issueToken(server, storeId, 'read');
      const feeds = {
        here: await openFeed(server, storeId, '', { headers: bearer(doomed.token) }),
        there: await openFeed(second, storeId, '', { headers: bearer(doomed.token) }),
        keptHere: await openFeed(server, storeId, '', { headers: bearer(kept.token) }),
        admin: await openFeed(second, storeId, '', { headers: admin }),
      };
      for (const feed of Object.values(feeds)) await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));

      await revokeToken(server, storeId, doomed.id);
      for (const feed of [feeds.here, feeds.there]) {
        await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'revoked'), 5000);
        await feed.ended;
        expect(feed.events.at(-1)).toEqual({ event: 'revoked', id: undefined, data: { storeId } });
      }
      // The others still get writes.
      const w = await call(server, `/v1/stores/${storeId}/keys/after`, json(1, { method: 'PUT', headers: admin }));
      expect(w.status).toBe(200);
      for (const feed of [feeds.keptHere, feeds.admin]) {
        await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'put' && e.data.key === 'after'));
        expect(feed.isClosed()).toBe(false);
        feed.close();
      }
      // Reconnecting with the revoked token is refused.
      const again = await openFeed(server, storeId, '', { headers: bearer(doomed.token) });
      expect(again.status).toBe(401);
    } finally {
      await second.close();
    }
  });

  it('stops the TypeScript client with a TokenRevokedError (the feed said revoked; no reconnect into a 401)', async () => {
    const storeId = await adminStore(server);
    const { id, token } = await issueToken(server, storeId, 'read');
    const errors: Error[] = [];
    const client = new SyncClient({
      baseUrl: server.url,
      token,
      storeId,
      store: new MemoryStore(),
      onError: (e) => errors.push(e),
      backoff: { initialMs: 10, maxMs: 50 },
    }).start();
    try {
      for (let i = 0; i < 200 && client.state !== 'live'; i++) await new Promise((r) => setTimeout(r, 25));
      expect(client.state).toBe('live');
      await revokeToken(server, storeId, id);
      for (let i = 0; i < 200 && client.state !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 25));
      expect(client.state).toBe('stopped');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(TokenRevokedError);
    } finally {
      await client.unsubscribe();
    }
  });
});
