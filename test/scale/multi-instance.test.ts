/**
 * Three keysync processes on one PostgreSQL database behind a real nginx,
 * started together on an empty database (they take turns migrating).
 * Clients talk to nginx (and, where a test needs a given instance, to the
 * instance itself):
 * - writes on any instance reach the feeds of every instance, in rev order;
 * - a sync session spans instances;
 * - an options PATCH, a token revocation and a store deletion on one
 *   instance act on the feeds of all;
 * - per-client limits hold per real client behind the proxy;
 * - kill -9 of one instance under load loses no answered write, and the
 *   TypeScript clients connected through nginx finish equal to the store.
 *
 * Needs a real PostgreSQL server (skipped on PGlite runs) and nginx
 * (.ci/scale.sh installs it).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribe, type SyncState } from '../../clients/typescript/src/index.js';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import { openFeed, type Feed } from '../support/sse.js';
import { listAll, streamWrites } from '../fault/writers.js';
import { replicaSnapshot } from '../client/support.js';
import { backend, createTestDatabase } from '../support/db.js';
import { exitWithin, spawnServer, type ServerProcess } from '../support/process.js';
import { NGINX, startNginx, type Nginx } from './nginx.js';

const ADMIN = 'admin-token-for-scale-tests-0123456789';
const admin = { authorization: `Bearer ${ADMIN}` };
const run = backend === 'postgres' && NGINX !== undefined;

interface Instance {
  proc: ServerProcess;
  url: string;
}

let instances: Instance[] = [];
let nginx: Nginx;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  if (!run) return;
  const empty = await createTestDatabase({ migrated: false });
  await empty.database.close();
  cleanups.push(() => empty.drop());
  const env = {
    DATABASE_URL: empty.url!,
    KEYSYNC_ADMIN_TOKEN: ADMIN,
    KEYSYNC_TRUSTED_PROXIES: '127.0.0.1',
    KEYSYNC_HEARTBEAT_MS: '1000',
    KEYSYNC_AUTH_FAILURE_LIMIT: '1',
    KEYSYNC_DB_POOL: '4',
  };
  // All three at once on an empty database: they must all come up.
  const procs = [0, 1, 2].map(() => spawnServer(env));
  cleanups.push(() => procs.forEach((p) => p.kill('SIGKILL')));
  const urls = await Promise.all(procs.map((p) => p.listening));
  instances = procs.map((proc, i) => ({ proc, url: urls[i]! }));
  nginx = await startNginx(urls.map((u) => new URL(u).host));
  cleanups.push(() => nginx.stop());
}, 90_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function api(base: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, { ...init, headers: { 'content-type': 'application/json', ...admin, ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

let n = 0;
async function newStore(): Promise<string> {
  const res = await api(nginx.url, '/v1/stores', {
    method: 'POST',
    body: JSON.stringify({ config: { scope: '00000000-0000-4000-8000-00000000a11a', n: `${process.pid}-${++n}-${Math.random()}` } }),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.storeId as string;
}

const putKey = (base: string, storeId: string, key: string, value: unknown) =>
  api(base, `/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`, { method: 'PUT', body: JSON.stringify(value) });

const feedsOnEvery = (storeId: string, headers: Record<string, string> = admin, query = '') =>
  Promise.all(instances.map((i) => openFeed(i.url, storeId, query, { headers })));

const ready = (f: Feed) => f.waitFor(() => f.events.some((e) => e.event === 'ready'));

/** A GET from a given loopback source address (one "real client" behind nginx). */
function getFrom(localAddress: string, path: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(nginx.url + path);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, localAddress, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!run)('several instances behind nginx', () => {
  it('all came up together on an empty database, and nginx reaches each', async () => {
    expect(instances).toHaveLength(3);
    for (const i of instances) expect((await fetch(`${i.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${nginx.url}/readyz`)).status).toBe(200);
  });

  it('writes on any instance reach the feeds of every instance, in rev order', async () => {
    const storeId = await newStore();
    const feeds = await feedsOnEvery(storeId, admin, '?since=0');
    await Promise.all(feeds.map(ready));
    const total = 90;
    // A third straight to each instance, the rest through nginx, concurrently.
    await Promise.all(
      Array.from({ length: total }, (_, i) => putKey(i % 2 ? nginx.url : instances[i % 3]!.url, storeId, `k${i}`, i).then((r) => expect(r.status).toBe(200))),
    );
    for (const feed of feeds) {
      await feed.waitFor(() => feed.events.filter((e) => e.event === 'put').length === total);
      expect(feed.events.filter((e) => e.event === 'put').map((e) => e.data.rev)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      feed.close();
    }
  });

  it('serves one sync session across instances', async () => {
    const storeId = await newStore();
    for (let i = 0; i < 5; i++) expect((await putKey(nginx.url, storeId, `s${i}`, i)).status).toBe(200);
    const hs = await api(instances[0]!.url, `/v1/stores/${storeId}/sync`, { method: 'POST', body: JSON.stringify({ have: {}, batchSize: 2 }) });
    expect(hs.status).toBe(201);
    const got: string[] = [];
    for (let cursor = 0; cursor < hs.body.batches; cursor++) {
      const batch = await api(instances[(cursor + 1) % 3]!.url, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/${cursor}`);
      expect(batch.status).toBe(200);
      got.push(...batch.body.entries.map((e: { key: string }) => e.key));
      const ack = await api(instances[(cursor + 2) % 3]!.url, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/ack`, {
        method: 'POST',
        body: JSON.stringify({ cursor }),
      });
      expect(ack.status).toBe(200);
    }
    expect(got.sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
    const status = await api(instances[1]!.url, `/v1/stores/${storeId}/sync/${hs.body.sessionId}`);
    expect(status.body.done).toBe(true);
  });

  it('an options PATCH, a token revocation and a store deletion on one instance act on the feeds of all', async () => {
    const storeId = await newStore();
    const patchFeeds = await feedsOnEvery(storeId);
    await Promise.all(patchFeeds.map(ready));
    const patched = await api(instances[0]!.url, `/v1/stores/${storeId}`, {
      method: 'PATCH',
      body: JSON.stringify({ options: { filter: { prefixes: ['a/'] } } }),
    });
    expect(patched.status).toBe(200);
    for (const f of patchFeeds) {
      await f.waitFor(() => f.events.some((e) => e.event === 'reset'));
      expect(f.events.at(-1)?.data.reason).toBe('options-changed');
      expect(await f.ended).toBe('clean');
    }

    const issued = await api(nginx.url, `/v1/stores/${storeId}/tokens`, { method: 'POST', body: JSON.stringify({ scope: 'read' }) });
    const tokenFeeds = await feedsOnEvery(storeId, { authorization: `Bearer ${issued.body.token}` });
    await Promise.all(tokenFeeds.map(ready));
    expect((await api(instances[1]!.url, `/v1/stores/${storeId}/tokens/${issued.body.id}`, { method: 'DELETE' })).status).toBe(204);
    for (const f of tokenFeeds) {
      await f.waitFor(() => f.events.some((e) => e.event === 'revoked'));
      expect(await f.ended).toBe('clean');
    }

    const deleteFeeds = await feedsOnEvery(storeId);
    await Promise.all(deleteFeeds.map(ready));
    expect((await api(instances[2]!.url, `/v1/stores/${storeId}`, { method: 'DELETE' })).status).toBe(204);
    for (const f of deleteFeeds) {
      await f.waitFor(() => f.events.some((e) => e.event === 'store-deleted'));
      expect(await f.ended).toBe('clean');
    }
  });

  it('holds per-client limits per real client behind the proxy', async () => {
    const storeId = await newStore();
    const token = (await api(nginx.url, `/v1/stores/${storeId}/tokens`, { method: 'POST', body: JSON.stringify({ scope: 'read' }) })).body.token as string;
    const path = `/v1/stores/${storeId}`;
    // 127.0.0.2 guesses tokens, and claims to be someone else in X-Forwarded-For (nginx appends its real address).
    const guesses: number[] = [];
    for (let i = 0; i < 40 && !guesses.includes(429); i++) {
      guesses.push(await getFrom('127.0.0.2', path, { authorization: `Bearer guess-${i}`, 'x-forwarded-for': '127.0.0.3' }));
    }
    expect(guesses).toContain(429);
    // 127.0.0.3, behind the same proxy, is not slowed down: unknown tokens still get 401, its own token works.
    for (let i = 0; i < 3; i++) {
      expect(await getFrom('127.0.0.3', path, { authorization: 'Bearer wrong' })).toBe(401);
      expect(await getFrom('127.0.0.3', path, { authorization: `Bearer ${token}` })).toBe(200);
    }
  });

  it('loses no answered write when an instance is killed under load; TS clients through nginx end equal to the store', async () => {
    const storeId = await newStore();
    const token = (await api(nginx.url, `/v1/stores/${storeId}/tokens`, { method: 'POST', body: JSON.stringify({ scope: 'read' }) })).body.token as string;
    const clients = Array.from({ length: 6 }, () => {
      const store = new MemoryStore();
      const reconnects: number[] = [];
      let downAt: number | undefined;
      const errors: Error[] = [];
      const client = subscribe({
        baseUrl: nginx.url,
        token,
        storeId,
        store,
        backoff: { initialMs: 20, maxMs: 300 },
        onError: (e) => errors.push(e),
        onStateChange: (state: SyncState) => {
          if (state === 'reconnecting' && downAt === undefined) downAt = performance.now();
          if (state === 'live' && downAt !== undefined) {
            reconnects.push(performance.now() - downAt);
            downAt = undefined;
          }
        },
      });
      return { client, store, reconnects, errors };
    });
    const writes = streamWrites(nginx.url, storeId, { writers: 6, headers: admin });
    const until = Date.now() + 20_000;
    while (writes.acked.length < 300 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const victim = instances[1]!;
    victim.proc.kill('SIGKILL');
    expect(await exitWithin(victim.proc, 10_000)).toBe('SIGKILL');
    const ackedAtKill = writes.acked.length;
    await new Promise((r) => setTimeout(r, 2000));
    await writes.stop();
    const afterKill = writes.acked.length - ackedAtKill;

    // Every answered write is in the store with the rev and ts it was answered with.
    const listed = await listAll(nginx.url, storeId, admin);
    const lost = writes.acked.filter((w) => {
      const got = listed.get(w.key);
      return !got || got.rev !== w.rev || got.ts !== w.ts;
    });
    expect(lost).toEqual([]);

    // Every client ends equal to the store.
    const expected: Record<string, unknown> = {};
    for (const key of [...listed.keys()].sort()) {
      const res = await api(nginx.url, `/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`);
      expected[key] = res.body;
    }
    const convergeStart = performance.now();
    for (const c of clients) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const snapshot = await replicaSnapshot(c.store);
        if (JSON.stringify(snapshot) === JSON.stringify(expected)) break;
        if (Date.now() > deadline) expect(snapshot).toEqual(expected);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(c.errors).toEqual([]);
    }
    const convergeMs = performance.now() - convergeStart;
    const moved = clients.flatMap((c) => c.reconnects);
    // The numbers of this run, for the record (the test's verdict is above).
    console.log(
      JSON.stringify({
        kill: {
          answered: writes.acked.length,
          answeredAfterKill: afterKill,
          unanswered: writes.unanswered.length,
          refused: Object.fromEntries(writes.refused),
          lost: lost.length,
          keys: listed.size,
          clients: clients.length,
          clientsReconnected: clients.filter((c) => c.reconnects.length > 0).length,
          reconnectMs: moved.map((ms) => Math.round(ms)),
          convergeMs: Math.round(convergeMs),
        },
      }),
    );
    await Promise.all(clients.map((c) => c.client.unsubscribe()));
  }, 90_000);
});
