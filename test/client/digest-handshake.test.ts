/**
 * @keysync/client's digest handshake (docs/API.md, "Digests") against the
 * real server: a replica of thousands of keys that reconnects without a
 * checkpoint compares bucket digests, then lists only the keys of the buckets
 * that differ, and receives exactly the keys written while it was away,
 * also when writes land between the two steps; a store whose options decide
 * per value refuses digests and the replica sends its whole map. Each ends
 * with the replica equal to the server's store.
 */
import { describe, expect, it } from 'vitest';
import { tsMicros } from '../../clients/typescript/src/digest-have.js';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import { bulk, call, json, newStore } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { manyOps, replicaSnapshot, start, traffic } from './support.js';

const env = useTestServer();

/** Writes `ops` in requests of at most 1000 (KEYSYNC_MAX_BULK_OPS). */
async function bulkAll(storeId: string, ops: unknown[]) {
  for (let i = 0; i < ops.length; i += 1000) await bulk(env.server, storeId, ops.slice(i, i + 1000));
}

/** A replica of `storeId` synced once, then unsubscribed. */
async function syncedReplica(storeId: string): Promise<MemoryStore> {
  const store = new MemoryStore();
  const run = start(env.server, { storeId, store, batchSize: 1000 });
  await run.completed;
  await run.client.unsubscribe();
  return store;
}

describe('the digest handshake of @keysync/client', () => {
  it('compares digests, lists only the differing buckets and receives only what changed, with writes between its two steps', async () => {
    const storeId = await newStore(env.server);
    await bulkAll(storeId, manyOps(3000));
    const store = await syncedReplica(storeId);
    // Without a checkpoint the next sync compares what the replica holds (as after a since-purged reset).
    await store.forgetRevisions();
    const changed = ['users/k0003', 'docs/a b/k1000', 'ünï/k2999', 'users/k1500'];
    await bulk(env.server, storeId, [
      ...changed.map((key) => ({ op: 'put', key, value: 'changed' })),
      { op: 'delete', key: 'docs/a b/k0001' },
      { op: 'put', key: 'new/one', value: 1 },
    ]);
    const t = traffic();
    const between = { op: 'put', key: 'users/k0006', value: 'written between the digests and the handshake' };
    const digestRequests: unknown[] = [];
    const fetchWithWrite: typeof t.fetch = async (input, init) => {
      const res = await t.fetch(input, init);
      if (new URL(input).pathname.endsWith('/sync/digests')) {
        digestRequests.push(JSON.parse(String(init?.body)));
        await bulk(env.server, storeId, [between]);
      }
      return res;
    };
    const run = start(env.server, { storeId, store, fetch: fetchWithWrite, batchSize: 1000 });
    await run.completed;
    try {
      expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId));
      expect(t.answers.filter((a) => a.path.endsWith('/sync/digests'))).toEqual([{ method: 'POST', path: `/v1/stores/${storeId}/sync/digests`, status: 200 }]);
      // It asks for the store's digests (and folds its own meanwhile), sending none of its own.
      expect(digestRequests).toEqual([{ buckets: 512 }]);
      const [hs] = t.handshakes as Array<{ have: Record<string, string>; digest: { listed: number[]; buckets: number } }>;
      // 3000 keys in 512 buckets: the changed and deleted keys' buckets are listed, about 6 keys each.
      expect(hs!.digest.buckets).toBe(512);
      expect(hs!.digest.listed.length).toBeGreaterThanOrEqual(5);
      expect(hs!.digest.listed.length).toBeLessThanOrEqual(6);
      expect(Object.keys(hs!.have).length).toBeLessThan(70);
      for (const key of [...changed, 'docs/a b/k0001']) expect(hs!.have).toHaveProperty([key]);
      expect(new Set(t.batchKeys)).toEqual(new Set([...changed, 'new/one', between.key]));
      expect(t.handshakeAnswers[0]!.body.removed).toContain('docs/a b/k0001');
      expect(run.errors).toEqual([]);
    } finally {
      await run.client.unsubscribe();
    }
  });

  it("sends its digests to a server that requires them (older than the store's digests in the answer), and ends equal", async () => {
    const storeId = await newStore(env.server);
    await bulkAll(storeId, manyOps(2500));
    const store = await syncedReplica(storeId);
    await store.forgetRevisions();
    await bulk(env.server, storeId, [{ op: 'put', key: 'users/k0007', value: 'changed' }]);
    const t = traffic();
    const asked: unknown[] = [];
    // Such a server answers a request without digests 400 naming `digests`: here the real server's answer to empty ones.
    const olderServer: typeof t.fetch = async (input, init) => {
      if (!new URL(input).pathname.endsWith('/sync/digests')) return t.fetch(input, init);
      const body = JSON.parse(String(init?.body)) as { digests?: string };
      asked.push(body);
      return t.fetch(input, { ...init, body: JSON.stringify({ digests: '', ...body }) });
    };
    const run = start(env.server, { storeId, store, fetch: olderServer, batchSize: 1000 });
    await run.completed;
    try {
      expect(t.answers.filter((a) => a.path.endsWith('/sync/digests')).map((a) => a.status)).toEqual([400, 200]);
      expect(asked).toMatchObject([{ buckets: 512 }, { buckets: 512, digests: expect.any(String) }]);
      expect(t.batchKeys).toEqual(['users/k0007']);
      expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId));
      expect(run.errors).toEqual([]);
    } finally {
      await run.client.unsubscribe();
    }
  });

  it('sends the whole map again when the options change between its two steps (409 digests-unusable), and ends equal', async () => {
    const storeId = await newStore(env.server);
    await bulkAll(storeId, manyOps(2500));
    const store = await syncedReplica(storeId);
    await store.forgetRevisions();
    await bulk(env.server, storeId, [{ op: 'put', key: 'users/k0003', value: 'changed' }]);
    const t = traffic();
    const fetchWithPatch: typeof t.fetch = async (input, init) => {
      const res = await t.fetch(input, init);
      if (new URL(input).pathname.endsWith('/sync/digests')) {
        // A filter that still takes every key, under a new options version.
        const patched = await call(env.server, `/v1/stores/${storeId}`, json({ options: { filter: { excludePrefixes: ['none/'] } } }, { method: 'PATCH' }));
        expect(patched.status).toBe(200);
      }
      return res;
    };
    const run = start(env.server, { storeId, store, fetch: fetchWithPatch, batchSize: 1000 });
    await run.completed;
    try {
      expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId));
      expect(t.handshakeAnswers.map((a) => a.status)).toEqual([409, 201]);
      expect(t.handshakes[0]).toHaveProperty('digest');
      expect(t.handshakes[1]).not.toHaveProperty('digest');
      expect(Object.keys((t.handshakes[1] as { have: object }).have)).toHaveLength(2500);
      expect(new Set(t.batchKeys)).toEqual(new Set(['users/k0003']));
      expect(run.errors).toEqual([]);
    } finally {
      await run.client.unsubscribe();
    }
  });

  it('sends the whole map to a store whose walk decides per value (409 digests-unusable), and ends equal', async () => {
    const children = Array.from({ length: 2500 }, (_, i) => `n/${i}`);
    const storeId = await newStore(env.server, { walk: { roots: ['root'], refs: ['$.children[*]'] } });
    await bulkAll(storeId, [{ op: 'put', key: 'root', value: { children } }, ...children.map((key, i) => ({ op: 'put', key, value: i }))]);
    const store = await syncedReplica(storeId);
    await store.forgetRevisions();
    await bulk(env.server, storeId, [
      { op: 'put', key: 'n/7', value: 'changed' },
      { op: 'put', key: 'root', value: { children: children.slice(1) } },
    ]);
    const t = traffic();
    const run = start(env.server, { storeId, store, fetch: t.fetch, batchSize: 1000 });
    await run.completed;
    try {
      // n/0 is no longer reachable: the store keeps it, the replica deleted it.
      const { 'n/0': unreachable, ...synced } = await serverSnapshot(env.server, storeId);
      expect(unreachable).toBe(0);
      expect(await replicaSnapshot(store)).toEqual(synced);
      expect(await store.get('n/0')).toMatchObject({ kind: 'deleted' });
      expect(t.answers.filter((a) => a.path.endsWith('/sync/digests')).map((a) => a.status)).toEqual([409]);
      expect(t.handshakes).toHaveLength(1);
      expect(Object.keys((t.handshakes[0] as { have: object }).have)).toHaveLength(2501);
      expect(t.handshakes[0]).not.toHaveProperty('digest');
      expect(new Set(t.batchKeys)).toEqual(new Set(['n/7', 'root']));
    } finally {
      await run.client.unsubscribe();
    }
  });
});

describe('tsMicros', () => {
  it('reads every RFC 3339 spelling of an instant to the microsecond, and nothing finer', () => {
    const us = Date.UTC(2026, 10, 26, 7, 31, 34) * 1000 + 123_456;
    for (const ts of [
      '2026-11-26T07:31:34.123456Z',
      '2026-11-26T07:31:34.123456z',
      '2026-11-26T07:31:34.123456000Z',
      '2026-11-26T08:31:34.123456+01:00',
      '2026-11-26T07:31:34.1234560Z',
    ]) {
      expect(tsMicros(ts)).toBe(us);
    }
    expect(tsMicros('2026-11-26T07:31:34Z')).toBe(us - 123_456);
    expect(tsMicros('2026-11-26T07:31:34.5Z')).toBe(us - 123_456 + 500_000);
    for (const ts of ['2026-11-26T07:31:34.123456001Z', '2026-11-26T07:31:34.12345aZ', '2026-13-26T07:31:34.123456Z', 'yesterday', '']) {
      expect(tsMicros(ts)).toBeNaN();
    }
  });
});
