/**
 * The server restarts (`server.restart()`: the process's HTTP side goes away
 * and comes back on the same database and port) in the middle of the
 * client's initial sync and in the middle of its live feed. The client must
 * resume, lose nothing and never see a rev go backwards.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import type { FetchLike } from '../../clients/typescript/src/http.js';
import { bulk, del, newStore, put } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { restartSettled } from '../support/restart.js';
import { useTestServer } from '../support/server.js';
import { eventually, expectRevsIncrease, expectRevsIncreasePerKey, manyOps, replicaSnapshot, start } from './support.js';

const env = useTestServer();

describe('server restarts', () => {
  it('mid initial sync: the client retries through the outage, resumes its session and converges', async () => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, manyOps(120));
    let restarting: Promise<void> | undefined;
    let failed = 0;
    // The server goes down while the request for batch 3 is on its way.
    const fetchDuringRestart: FetchLike = async (input, init) => {
      if (restarting === undefined && /\/batches\/3$/.test(new URL(input).pathname)) {
        restarting = env.server.restart();
      }
      try {
        return await fetch(input, init);
      } catch (error) {
        failed++;
        throw error;
      }
    };
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store, batchSize: 12, fetch: fetchDuringRestart });
    await run.completed;
    await restarting;
    try {
      expect(failed).toBeGreaterThan(0);
      expect(run.states).toContain('reconnecting');
      expect(run.errors).toEqual([]);
      expect(run.client.progress).toEqual({ done: 10, total: 10 });
      // Every key once, none twice (the session resumed where it stopped).
      expect(run.changes).toHaveLength(120);
      expect(new Set(run.changes.map((c) => c.key)).size).toBe(120);
      expectRevsIncreasePerKey(run.changes);

      // And it goes live afterwards: later writes arrive.
      await put(env.server, storeId, 'after/restart', 1);
      await eventually(async () => expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId)));
    } finally {
      await run.client.unsubscribe();
    }
  });

  it('mid live feed: the client reconnects with Last-Event-ID and gets every write once, in rev order', async () => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, manyOps(30));
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store });
    await run.completed;
    await eventually(() => expect(run.client.state).toBe('live'));
    const fromInitial = run.changes.length;
    try {
      await put(env.server, storeId, 'live/1', 1);
      await del(env.server, storeId, 'users/k0000');
      await eventually(() => expect(run.changes.length).toBe(fromInitial + 2));

      await restartSettled(env.server);
      // Written while the client is (probably) still reconnecting: they come from the backlog.
      await put(env.server, storeId, 'live/2', 2);
      await bulk(env.server, storeId, [
        { op: 'put', key: 'live/1', value: 'one' },
        { op: 'delete', key: 'docs/a b/k0001' },
      ]);
      await eventually(() => expect(run.client.state).toBe('live'));
      await put(env.server, storeId, 'live/3', 3);

      await eventually(async () => expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId)));
      expect(run.states).toContain('reconnecting');
      expect(run.errors).toEqual([]);
      // Live changes: exactly the 6 writes, each once, in strictly increasing rev order.
      const live = run.changes.slice(fromInitial);
      expect(live.map((c) => [c.key, c.op])).toEqual([
        ['live/1', 'put'],
        ['users/k0000', 'delete'],
        ['live/2', 'put'],
        ['live/1', 'put'],
        ['docs/a b/k0001', 'delete'],
        ['live/3', 'put'],
      ]);
      expectRevsIncrease(live);
      expectRevsIncreasePerKey(run.changes);
      expect(await store.getCheckpoint()).toBe(36);
    } finally {
      await run.client.unsubscribe();
    }
  });
});
