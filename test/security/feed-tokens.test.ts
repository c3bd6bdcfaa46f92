/**
 * Feed tokens: short-lived, read-only, one store's live feed only, carried in
 * `?access_token=` so a browser's native EventSource can authenticate. They
 * never outlive the token that minted them and never reach the request log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedTokens } from '../../src/http/feed-token.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import type { TestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { ADMIN, admin, adminStore, bearer, issueToken, revokeToken, startSecured } from './support.js';

let db: TestDatabase;
let server: TestServer;
const logLines: string[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
  server = await startSecured(db, { log: (line) => logLines.push(line) });
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

async function mint(storeId: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const init = body === undefined ? { method: 'POST', headers: bearer(token) } : json(body, { headers: bearer(token) });
  return call(server, `/v1/stores/${storeId}/feed-tokens`, init);
}
const feedWith = (storeId: string, feedToken: string, extra = '') => openFeed(server, storeId, `?access_token=${encodeURIComponent(feedToken)}${extra}`);
const put = (storeId: string, key: string, value: unknown) => call(server, `/v1/stores/${storeId}/keys/${key}`, json(value, { method: 'PUT', headers: admin }));

describe('feed tokens', () => {
  it('are minted by a read token and open the live feed without any header, as native EventSource does', async () => {
    const storeId = await adminStore(server);
    const read = await issueToken(server, storeId, 'read');
    const minted = await mint(storeId, read.token);
    expect(minted.status).toBe(201);
    expect(minted.body.token).toMatch(/^ksf1\./);
    const expires = Date.parse(minted.body.expiresAt) - Date.now();
    expect(expires).toBeGreaterThan(250_000);
    expect(expires).toBeLessThanOrEqual(300_000);

    const feed = await feedWith(storeId, minted.body.token);
    try {
      expect(feed.status).toBe(200);
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
      await put(storeId, 'k', { v: 1 });
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'put'));
      expect(feed.events.find((e) => e.event === 'put')!.data).toMatchObject({ key: 'k', value: { v: 1 } });
    } finally {
      feed.close();
    }
  });

  it("are minted by write and admin tokens too, with a chosen lifetime within bounds; not by other stores' tokens", async () => {
    const storeId = await adminStore(server);
    const other = await adminStore(server);
    const write = await issueToken(server, storeId, 'write');
    const otherRead = await issueToken(server, other, 'read');
    expect((await mint(storeId, write.token, { ttlSeconds: 60 })).status).toBe(201);
    const byAdmin = await mint(storeId, ADMIN, { ttlSeconds: 3600 });
    expect(byAdmin.status).toBe(201);
    const feed = await feedWith(storeId, byAdmin.body.token);
    expect(feed.status).toBe(200);
    feed.close();
    expect((await mint(storeId, otherRead.token)).status).toBe(403);
    expect((await mint(storeId, 'nope-' + 'x'.repeat(30))).status).toBe(401);
    for (const ttlSeconds of [5, 3601, 'long']) expect((await mint(storeId, write.token, { ttlSeconds })).status).toBe(400);
    expect((await mint(storeId, write.token, { ttlSeconds: 60, scope: 'write' })).status).toBe(400);
  });

  it('are refused on another store (403), when expired, tampered or unsigned (401), and on every other route', async () => {
    const storeId = await adminStore(server);
    const other = await adminStore(server);
    const read = await issueToken(server, storeId, 'read');
    const { token } = (await mint(storeId, read.token)).body as { token: string };

    expect((await feedWith(other, token)).status).toBe(403);
    // Signed with the same key (derived from the admin token) but expired 10 s ago.
    const expired = new FeedTokens(ADMIN).mint(storeId, { kind: 'token', tokenId: read.id, storeId, scope: 'read' }, 10, Date.now() - 20_000);
    const late = await call(server, `/v1/stores/${storeId}/events?access_token=${expired.token}`);
    expect(late.status).toBe(401);
    expect(late.body.detail).toMatch(/expired/);
    const [prefix, payload, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), s: other })).toString('base64url');
    expect((await call(server, `/v1/stores/${other}/events?access_token=${prefix}.${forged}.${mac}`)).status).toBe(401);
    expect((await call(server, `/v1/stores/${storeId}/events?access_token=${prefix}.${payload}.`)).status).toBe(401);
    const foreign = new FeedTokens('another-admin-token-0123456789').mint(storeId, { kind: 'admin' }, 60);
    expect((await call(server, `/v1/stores/${storeId}/events?access_token=${foreign.token}`)).status).toBe(401);

    // Read-only and feed-only: no other route takes it, in the query or as a bearer token.
    await put(storeId, 'k', 1);
    expect((await call(server, `/v1/stores/${storeId}/keys/k?access_token=${token}`)).status).toBe(401);
    expect((await call(server, `/v1/stores/${storeId}/keys/k`, { headers: bearer(token) })).status).toBe(401);
    expect((await call(server, `/v1/stores/${storeId}/keys/k`, json(2, { method: 'PUT', headers: bearer(token) }))).status).toBe(401);
    expect((await call(server, `/v1/stores/${storeId}/sync?access_token=${token}`, json({ have: {} }))).status).toBe(401);
    expect((await openFeed(server, storeId, '', { headers: bearer(token) })).status).toBe(401);
  });

  it('end with the token that minted them: revoking it ends open feeds and refuses new ones', async () => {
    const storeId = await adminStore(server);
    const read = await issueToken(server, storeId, 'read');
    const { token } = (await mint(storeId, read.token)).body as { token: string };
    const feed = await feedWith(storeId, token);
    try {
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
      await revokeToken(server, storeId, read.id);
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'revoked'), 5000);
      await feed.ended;
    } finally {
      feed.close();
    }
    const again = await call(server, `/v1/stores/${storeId}/events?access_token=${token}`);
    expect(again.status).toBe(401);
    expect(again.body.detail).toMatch(/revoked/);
  });

  it('never appear in the request log', async () => {
    const storeId = await adminStore(server);
    const read = await issueToken(server, storeId, 'read');
    const { token } = (await mint(storeId, read.token)).body as { token: string };
    const feed = await feedWith(storeId, token);
    feed.close();
    await call(server, `/v1/stores/${storeId}/keys/k?access_token=${token}`);
    const lines = logLines.join('\n');
    expect(lines).toContain('/v1/stores/:storeId/events');
    expect(lines).not.toContain(token.split('.')[2]!);
    expect(lines).not.toContain('access_token');
  });
});
