/**
 * @keysync/client's digest handshake (docs/API.md, "Digests") against the
 * real server: a replica of thousands of keys that reconnects without a
 * checkpoint compares bucket digests, then lists only the keys of the buckets
 * that differ, and receives exactly the keys written while it was away,
 * also when writes land between the two steps; a store whose options decide
 * per value refuses digests and the replica sends its whole map. Each ends
 * with the replica equal to the server's store.
 */
import { digestBucketOf } from '@keysync/protocol';
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

/**
 * A replica of `storeId` synced once, unsubscribed, then without its
 * checkpoint: its next sync compares what it holds (as after a since-purged
 * reset).
 */
async function replicaWithoutCheckpoint(storeId: string, prefix?: string): Promise<MemoryStore> {
  const store = new MemoryStore();
  const run = start(env.server, { storeId, store, batchSize: 1000, prefix });
  await run.completed;
  await run.client.unsubscribe();
  await store.forgetRevisions();
  return store;
}

/** A store of `n` keys (manyOps) and a replica of it without checkpoint. */
async function storeAndReplica(n: number): Promise<{ storeId: string; store: MemoryStore }> {
  const storeId = await newStore(env.server);
  await bulkAll(storeId, manyOps(n));
  return { storeId, store: await replicaWithoutCheckpoint(storeId) };
}

describe('the digest handshake of @keysync/client', () => {
  it('compares digests, lists only the differing buckets and receives only what changed, with writes between its two steps', async () => {
    const { storeId, store } = await storeAndReplica(3000);
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

  it('compares the digests of its prefix only, and ends equal to the store under it', async () => {
    const storeId = await newStore(env.server);
    // 2,200 keys under users/ (a third of them): enough for digests.
    await bulkAll(storeId, manyOps(6600));
    const store = await replicaWithoutCheckpoint(storeId, 'users/');
    const changed = ['users/k0003', 'users/k4500'];
    await bulk(env.server, storeId, [
      ...changed.map((key) => ({ op: 'put', key, value: 'changed' })),
      { op: 'put', key: 'docs/a b/k0001', value: 'elsewhere' },
    ]);
    const t = traffic();
    const digestRequests: unknown[] = [];
    const recording: typeof t.fetch = async (input, init) => {
      if (new URL(input).pathname.endsWith('/sync/digests')) digestRequests.push(JSON.parse(String(init?.body)));
      return t.fetch(input, init);
    };
    const run = start(env.server, { storeId, store, prefix: 'users/', fetch: recording, batchSize: 1000 });
    await run.completed;
    try {
      expect(digestRequests).toEqual([{ buckets: 512, prefix: 'users/' }]);
      const [hs] = t.handshakes as Array<{ digest: { listed: number[] } }>;
      expect(hs!.digest.listed).toEqual([...new Set(changed.map((key) => digestBucketOf(key, 512)))].sort((a, b) => a - b));
      expect(new Set(t.batchKeys)).toEqual(new Set(changed));
      const server = await serverSnapshot(env.server, storeId);
      expect(await replicaSnapshot(store)).toEqual(Object.fromEntries(Object.entries(server).filter(([key]) => key.startsWith('users/'))));
      expect(run.errors).toEqual([]);
    } finally {
      await run.client.unsubscribe();
    }
  });

  it("sends its digests to a server that requires them (older than the store's digests in the answer), and ends equal", async () => {
    const { storeId, store } = await storeAndReplica(2500);
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
    const { storeId, store } = await storeAndReplica(2500);
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
    const store = await replicaWithoutCheckpoint(storeId);
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
