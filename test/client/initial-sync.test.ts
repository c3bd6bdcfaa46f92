/**
 * @keysync/client's initial sync against the real server: a large fresh
 * sync, a reconnect that moves only what changed, an expired session and a
 * purged `since`, each ending with the replica equal to the server's store.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import type { ApplyOptions, LocalRecord } from '../../clients/typescript/src/local-store.js';
import { bulk, del, newStore, put } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { startServer, useTestServer } from '../support/server.js';
import { eventually, expectRevsIncreasePerKey, manyOps, replicaSnapshot, sleep, start, traffic } from './support.js';

const env = useTestServer();

describe('initial sync', () => {
  it('mirrors a store of many batches into a fresh MemoryStore, each key once, with progress', async () => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, manyOps(200));
    await bulk(env.server, storeId, [
      { op: 'delete', key: 'users/k0003' },
      { op: 'put', key: 'docs/a b/k0001', value: 'changed' },
    ]);
    const t = traffic();
    const store = new MemoryStore();
    const progress: Array<{ done: number; total: number }> = [];
    const run = start(env.server, {
      storeId,
      store,
      fetch: t.fetch,
      batchSize: 20,
      onChange: () => progress.push(run.client.progress),
    });
    await run.completed;
    try {
      expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId));
      expect(Object.keys(await replicaSnapshot(store))).toHaveLength(199);
      // 199 live keys in ceil(199/20) = 10 batches, each key exactly once.
      expect(t.handshakes).toEqual([{ have: {}, batchSize: 20, listStale: false, inline: true }]);
      expect(t.batchKeys).toHaveLength(199);
      expect(new Set(t.batchKeys).size).toBe(199);
      expect(run.client.progress).toEqual({ done: 10, total: 10 });
      expect(progress[0]).toEqual({ done: 0, total: 10 });
      expect(run.changes).toHaveLength(199);
      expect(run.changes.every((c) => c.op === 'put')).toBe(true);
      expectRevsIncreasePerKey(run.changes);
      // Bytes keep their content type; JSON its value.
      const bytes = await store.get('users/k0000');
      expect(bytes).toMatchObject({ kind: 'bytes', contentType: 'application/octet-stream' });
      expect(Buffer.from((bytes as { bytes: Uint8Array }).bytes).toString()).toBe('v1:0');
      expect(await store.get('docs/a b/k0001')).toMatchObject({ kind: 'json', value: 'changed', rev: 202 });
      expect(await store.getCheckpoint()).toBe(202);
      await eventually(() => expect(run.client.state).toBe('live'));
      expect(run.states.slice(0, 2)).toEqual(['syncing', 'live']);
      expect(run.errors).toEqual([]);
    } finally {
      await run.client.unsubscribe();
    }
  });

  it('with a window of 3 pipelines fetches and acks, never provokes ack-required, and ends equal to the store while it is written to', async () => {
    const windowed = await startServer(env.db, { limits: { batchWindow: 3 } });
    try {
      const storeId = await newStore(windowed);
      await bulk(windowed, storeId, manyOps(300));
      const t = traffic();
      const store = new MemoryStore();
      // Writes land while the batches are fetched: rewrites, deletes, new keys.
      const writes: Promise<unknown>[] = [];
      const key = (i: number) => `${['users/', 'docs/a b/', 'ünï/'][i % 3]}k${String(i).padStart(4, '0')}`;
      const run = start(windowed, {
        storeId,
        store,
        fetch: t.fetch,
        batchSize: 10,
        onChange: () => {
          if (writes.length >= 30) return;
          const n = writes.length;
          writes.push(
            bulk(windowed, storeId, [
              { op: 'put', key: key(290 - 9 * n), value: `rewritten ${n}` },
              { op: 'delete', key: key(9 * n + 1) },
              { op: 'put', key: `new/${n}`, value: n },
            ]),
          );
        },
      });
      await run.completed;
      try {
        await Promise.all(writes);
        expect(writes).toHaveLength(30);
        // The window was used (several batches in flight) and never overstepped.
        const fetched = t.answers.filter((a) => /\/batches\/\d+$/.test(a.path));
        expect(fetched.every((a) => a.status === 200)).toBe(true);
        expect(t.answers.filter((a) => a.status === 409)).toEqual([]);
        // Once the feed has caught up, the replica is the store.
        await eventually(async () => expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(windowed, storeId)));
        expectRevsIncreasePerKey(run.changes);
        expect(run.errors).toEqual([]);
      } finally {
        await run.client.unsubscribe();
      }
    } finally {
      await windowed.close();
    }
  });

  it('after a time offline moves only the changed keys (since) and applies the deletes', async () => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, manyOps(150));
    const store = new MemoryStore();
    const first = start(env.server, { storeId, store, batchSize: 50 });
    await first.completed;
    await first.client.unsubscribe();
    const checkpoint = await store.getCheckpoint();
    expect(checkpoint).toBe(150);

    // Offline: 3 keys change, 2 are new, 4 are deleted (one of them changed first).
    await put(env.server, storeId, 'users/k0000', { changed: 1 });
    await put(env.server, storeId, 'docs/a b/k0001', { changed: 2 });
    await put(env.server, storeId, 'ünï/k0002', { changed: 3 });
    await put(env.server, storeId, 'new/1', 1);
    await put(env.server, storeId, 'new/2', 2);
    await put(env.server, storeId, 'users/k0006', 'soon gone');
    for (const key of ['users/k0003', 'users/k0006', 'docs/a b/k0004', 'ünï/k0005']) await del(env.server, storeId, key);

    const t = traffic();
    const again = start(env.server, { storeId, store, batchSize: 50, fetch: t.fetch });
    await again.completed;
    try {
      expect(t.handshakes).toEqual([{ since: 150, batchSize: 50, listStale: false, inline: true }]);
      expect(t.handshakeAnswers[0]!.body.removed.sort()).toEqual(['docs/a b/k0004', 'users/k0003', 'users/k0006', 'ünï/k0005']);
      // Only the 5 changed or new live keys travel, inside the handshake's answer (one batch: inline).
      expect(t.batchKeys.sort()).toEqual(['docs/a b/k0001', 'new/1', 'new/2', 'users/k0000', 'ünï/k0002']);
      expect(t.answers.filter((a) => a.path.includes('/sync/'))).toEqual([]);
      expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId));
      for (const key of ['users/k0003', 'users/k0006', 'docs/a b/k0004', 'ünï/k0005']) {
        expect((await store.get(key))?.kind).toBe('deleted');
      }
      // Callbacks: the 5 puts and the 4 deletes, nothing else.
      expect(
        again.changes
          .filter((c) => c.op === 'put')
          .map((c) => c.key)
          .sort(),
      ).toEqual(t.batchKeys.sort());
      expect(again.changes.filter((c) => c.op === 'delete')).toHaveLength(4);
    } finally {
      await again.client.unsubscribe();
    }
  });

  it('re-handshakes when its session expires during a slow apply, and converges', async () => {
    const quick = await startServer(env.db, { limits: { batchTimeoutMs: 300 } });
    try {
      const storeId = await newStore(quick);
      await bulk(quick, storeId, manyOps(120));
      // The second batch takes longer to apply than the session may stay idle.
      let batches = 0;
      const store = new (class extends MemoryStore {
        override async applyBatch(records: readonly LocalRecord[], options?: ApplyOptions) {
          if (records.length > 0 && ++batches === 2) await sleep(700);
          return super.applyBatch(records, options);
        }
      })();
      const t = traffic();
      const run = start(quick, { storeId, store, batchSize: 30, fetch: t.fetch });
      await run.completed;
      try {
        // The ack of batch 1 met 410 session-expired (a loaded machine may
        // see more expiries), and each new handshake, by `have` since there is
        // no checkpoint yet, asked only for the keys not held yet: batches of
        // 30 for those alone (the client asks for no stale list).
        expect(t.answers.some((a) => a.path.endsWith('/ack') && a.status === 410)).toBe(true);
        expect(t.handshakes.length).toBeGreaterThanOrEqual(2);
        expect(Object.keys(t.handshakes[1]!.have as object).length).toBeGreaterThanOrEqual(30);
        t.handshakes.forEach((h, i) => {
          const have = Object.keys((h.have ?? {}) as object);
          const answer = t.handshakeAnswers[i]!.body;
          expect(answer.stale).toBeUndefined();
          expect(answer.batches).toBe(Math.ceil((120 - have.length) / 30));
        });
        expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(quick, storeId));
        expect(run.changes).toHaveLength(120);
        expectRevsIncreasePerKey(run.changes);
        expect(run.errors).toEqual([]);
      } finally {
        await run.client.unsubscribe();
      }
    } finally {
      await quick.close();
    }
  });

  it('falls back to a `have` handshake when its `since` was purged, moving only what changed', async () => {
    const purging = await startServer(env.db, { limits: { tombstoneRetentionMs: 0 } });
    try {
      const storeId = await newStore(purging);
      await bulk(purging, storeId, manyOps(100));
      const store = new MemoryStore();
      const first = start(purging, { storeId, store });
      await first.completed;
      await first.client.unsubscribe();
      expect(await store.getCheckpoint()).toBe(100);

      await del(purging, storeId, 'users/k0003');
      await del(purging, storeId, 'docs/a b/k0004');
      await put(purging, storeId, 'users/k0009', 'changed');
      await put(purging, storeId, 'fresh', true);
      const { purged } = await purging.keysync.housekeeping();
      expect(purged).toBeGreaterThanOrEqual(2); // other tests' tombstones go too

      const t = traffic();
      const again = start(purging, { storeId, store, fetch: t.fetch });
      await again.completed;
      try {
        expect(t.handshakes.map((h) => Object.keys(h)[0])).toEqual(['since', 'have']);
        expect(t.handshakeAnswers[0]).toMatchObject({ status: 409, body: { type: expect.stringMatching(/since-purged$/) } });
        // The `have` map names the 100 keys held; the server answers with the deletes and the 2 changes.
        expect(Object.keys(t.handshakes[1]!.have as object)).toHaveLength(100);
        expect(t.handshakeAnswers[1]!.body.removed.sort()).toEqual(['docs/a b/k0004', 'users/k0003']);
        expect(t.batchKeys.sort()).toEqual(['fresh', 'users/k0009']);
        expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(purging, storeId));
        expect(await store.getCheckpoint()).toBe(104);
      } finally {
        await again.client.unsubscribe();
      }
    } finally {
      await purging.close();
    }
  });
});
