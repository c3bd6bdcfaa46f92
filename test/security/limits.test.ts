/**
 * Abuse limits: request rate per token (and address), unknown-token guessing
 * per address, open sync sessions per store and per client, live feeds per
 * client, per store and per server. Each answers problem+json with
 * Retry-After, and each frees up again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsFrom, readEnv } from '../../src/env.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/limits.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import type { TestServer } from '../support/server.js';
import { openFeed, type Feed } from '../support/sse.js';
import { admin, adminStore, bearer, issueToken, startSecured } from './support.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function withServer(limits: Partial<Limits>, body: (server: TestServer) => Promise<void>) {
  const server = await startSecured(db, { limits });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

const retryAfter = (res: { res: Response }) => Number(res.res.headers.get('retry-after'));

describe('documented defaults', () => {
  it('are generous for honest clients and configurable through the environment', () => {
    expect(DEFAULT_LIMITS).toMatchObject({
      rateLimit: 200,
      rateBurst: 400,
      authFailureLimit: 20,
      maxSessionsPerStore: 500,
      maxSessionsPerClient: 16,
      maxSubscribers: 5000,
      maxSubscribersPerStore: 2000,
      maxSubscribersPerClient: 32,
    });
    const env = readEnv({ KEYSYNC_RATE_LIMIT: '0', KEYSYNC_MAX_SUBSCRIBERS: '7', KEYSYNC_CORS_ORIGINS: 'https://a.example, http://localhost:3000' });
    expect(limitsFrom(env)).toMatchObject({ rateLimit: 0, maxSubscribers: 7 });
    expect(env.KEYSYNC_CORS_ORIGINS).toEqual(['https://a.example', 'http://localhost:3000']);
    expect(env.KEYSYNC_REQUEST_TIMEOUT_MS).toBe(60_000);
    expect(() => readEnv({ KEYSYNC_CORS_ORIGINS: 'https://a.example/app' })).toThrow(/^invalid configuration: KEYSYNC_CORS_ORIGINS .*no path/);
    expect(() => readEnv({ KEYSYNC_MAX_SESSIONS_PER_STORE: '0' })).toThrow(/KEYSYNC_MAX_SESSIONS_PER_STORE/);
  });
});

describe('request rate per token', () => {
  it('answers 429 too-many-requests with Retry-After past the burst, per token; the admin is not limited', async () => {
    await withServer({ rateLimit: 2, rateBurst: 5 }, async (server) => {
      const storeId = await adminStore(server);
      const a = bearer((await issueToken(server, storeId, 'read')).token);
      const b = bearer((await issueToken(server, storeId, 'read')).token);
      const get = (headers: Record<string, string>) => call(server, `/v1/stores/${storeId}`, { headers });
      for (let i = 0; i < 5; i++) expect((await get(a)).status).toBe(200);
      // The bucket refills at 2/s: on a slow machine a token may come back meanwhile, so allow a few more.
      let limited = await get(a);
      for (let i = 0; i < 10 && limited.status === 200; i++) limited = await get(a);
      expectProblem(limited, 429, 'too-many-requests');
      expect(retryAfter(limited)).toBeGreaterThanOrEqual(1);
      expect((await get(b)).status).toBe(200);
      for (let i = 0; i < 20; i++) expect((await get(admin)).status).toBe(200);
      await new Promise((r) => setTimeout(r, retryAfter(limited) * 1000));
      expect((await get(a)).status).toBe(200);
    });
  });

  it('slows down an address that keeps sending unknown tokens', async () => {
    await withServer({ authFailureLimit: 1 }, async (server) => {
      const storeId = await adminStore(server);
      const guess = (i: number) => call(server, `/v1/stores/${storeId}`, { headers: bearer(`guess-${i}`) });
      expectProblem(await guess(0), 401, 'unauthorized');
      // The budget refills each second: on a slow machine keep guessing until it runs out.
      let limited = await guess(1);
      for (let i = 2; i < 20 && limited.status === 401; i++) limited = await guess(i);
      expectProblem(limited, 429, 'too-many-requests');
      expect(retryAfter(limited)).toBeGreaterThanOrEqual(1);
      expect((await call(server, `/v1/stores/${storeId}`, { headers: admin })).status).toBe(200);
    });
  });
});

describe('open sync sessions', () => {
  async function storeWithKeys(server: TestServer, n: number) {
    const storeId = await adminStore(server);
    const ops = Array.from({ length: n }, (_, i) => ({ op: 'put', key: `k${i}`, value: i }));
    expect((await call(server, `/v1/stores/${storeId}/writes`, json({ ops }, { headers: admin }))).status).toBe(200);
    return storeId;
  }
  const handshake = (server: TestServer, storeId: string, headers: Record<string, string>) =>
    call(server, `/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 1 }, { headers }));

  it('are bounded per client (token at an address): one client that never acks cannot starve another', async () => {
    await withServer({ maxSessionsPerClient: 3 }, async (server) => {
      const storeId = await storeWithKeys(server, 2);
      const abuser = bearer((await issueToken(server, storeId, 'read')).token);
      const honest = bearer((await issueToken(server, storeId, 'read')).token);
      const sessions: string[] = [];
      for (let i = 0; i < 3; i++) sessions.push((await handshake(server, storeId, abuser)).body.sessionId);
      const refused = await handshake(server, storeId, abuser);
      expectProblem(refused, 429, 'too-many-sessions');
      expect(retryAfter(refused)).toBeGreaterThanOrEqual(1);
      expect((await handshake(server, storeId, honest)).status).toBe(201);
      // Finishing (fetch and ack every batch) or cancelling a session frees its slot.
      const s0 = sessions[0]!;
      for (const cursor of [0, 1]) {
        expect((await call(server, `/v1/stores/${storeId}/sync/${s0}/batches/${cursor}`, { headers: abuser })).status).toBe(200);
        expect((await call(server, `/v1/stores/${storeId}/sync/${s0}/ack`, json({ cursor }, { headers: abuser }))).status).toBe(200);
      }
      expect((await handshake(server, storeId, abuser)).status).toBe(201);
      expectProblem(await handshake(server, storeId, abuser), 429, 'too-many-sessions');
      expect((await call(server, `/v1/stores/${storeId}/sync/${sessions[1]}`, { method: 'DELETE', headers: abuser })).status).toBe(204);
      expect((await handshake(server, storeId, abuser)).status).toBe(201);
    });
  });

  it('are bounded per store (across clients and instances, counted in the database) until sessions finish or expire', async () => {
    await withServer({ maxSessionsPerStore: 2, batchTimeoutMs: 600 }, async (server) => {
      const storeId = await storeWithKeys(server, 2);
      const other = await storeWithKeys(server, 2);
      expect((await handshake(server, storeId, admin)).status).toBe(201);
      expect((await handshake(server, storeId, admin)).status).toBe(201);
      expectProblem(await handshake(server, storeId, admin), 429, 'too-many-sessions');
      // A handshake with nothing stale opens no session and is never refused.
      const fresh = await call(server, `/v1/stores/${storeId}/sync`, json({ since: 2 }, { headers: admin }));
      expect(fresh.status).toBe(201);
      expect((await handshake(server, other, admin)).status).toBe(201);
      await new Promise((r) => setTimeout(r, 700)); // both idle past KEYSYNC_BATCH_TIMEOUT_MS
      expect((await handshake(server, storeId, admin)).status).toBe(201);
    });
  });
});

describe('live feeds', () => {
  const feeds: Feed[] = [];
  const open = async (server: TestServer, storeId: string, headers: Record<string, string>) => {
    const feed = await openFeed(server, storeId, '', { headers });
    feeds.push(feed);
    return feed;
  };
  const ready = (feed: Feed) => feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
  const closeAll = async () => {
    for (const f of feeds.splice(0)) {
      f.close();
      await f.ended;
    }
  };

  it('are bounded per client with 429, per store with 429 and per server with 503, all too-many-subscribers with Retry-After', async () => {
    await withServer({ maxSubscribersPerClient: 2, maxSubscribersPerStore: 3, maxSubscribers: 4 }, async (server) => {
      try {
        const s1 = await adminStore(server);
        const s2 = await adminStore(server);
        const t1 = bearer((await issueToken(server, s1, 'read')).token);
        const t2 = bearer((await issueToken(server, s1, 'read')).token);
        await ready(await open(server, s1, t1));
        await ready(await open(server, s1, t1));
        const perClient = await call(server, `/v1/stores/${s1}/events`, { headers: { ...t1, accept: 'text/event-stream' } });
        expectProblem(perClient, 429, 'too-many-subscribers');
        expect(retryAfter(perClient)).toBeGreaterThanOrEqual(1);
        await ready(await open(server, s1, t2)); // another client of the same store is fine
        const perStore = await call(server, `/v1/stores/${s1}/events`, { headers: { ...admin, accept: 'text/event-stream' } });
        expectProblem(perStore, 429, 'too-many-subscribers');
        await ready(await open(server, s2, admin));
        const perServer = await call(server, `/v1/stores/${s2}/events`, { headers: { ...admin, accept: 'text/event-stream' } });
        expectProblem(perServer, 503, 'too-many-subscribers');
        expect(retryAfter(perServer)).toBeGreaterThanOrEqual(1);

        // Closing feeds (client gone) frees their slots.
        feeds[0]!.close();
        await feeds[0]!.ended;
        for (let i = 0; i < 50 && server.keysync.hub.stats().subscribers > 3; i++) await new Promise((r) => setTimeout(r, 20));
        await ready(await open(server, s1, t1));
      } finally {
        await closeAll();
      }
    });
  });

  it('free their slots when they end without the client leaving (here: its token revoked)', async () => {
    await withServer({ maxSubscribersPerStore: 1 }, async (server) => {
      try {
        const s = await adminStore(server);
        const t = await issueToken(server, s, 'read');
        await ready(await open(server, s, bearer(t.token)));
        expect((await call(server, `/v1/stores/${s}/tokens/${t.id}`, { method: 'DELETE', headers: admin })).status).toBe(204);
        await feeds.at(-1)!.ended;
        await ready(await open(server, s, admin));
      } finally {
        await closeAll();
      }
    });
  });
});
