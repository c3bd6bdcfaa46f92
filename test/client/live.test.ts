/**
 * @keysync/client on the live feed of the real server: per-key callbacks,
 * unsubscribe, a deleted store, and a FileStore replica that outlives its
 * client and resumes with `since`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreDeletedError } from '../../clients/typescript/src/errors.js';
import type { Change } from '../../clients/typescript/src/records.js';
import { FileStore } from '../../clients/typescript/src/stores/file.js';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import { bulk, call, del, newStore, put } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { eventually, expectRevsIncrease, manyOps, replicaSnapshot, sleep, start, traffic } from './support.js';

const env = useTestServer();

const subscribers = () => env.server.keysync.hub.stats().subscribers;
const brief = (c: Change) => [c.op, c.value, c.rev];

describe('live feed', () => {
  it('fires per-key callbacks once per change, in rev order; unsubscribe stops them and closes the feed', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'a', 0);
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store });
    const onA: Change[] = [];
    const onB: Change[] = [];
    const onBToo: Change[] = [];
    run.client.on('a', (c) => onA.push(c));
    run.client.on('b', (c) => onB.push(c));
    const offBToo = run.client.on('b', (c) => onBToo.push(c));
    await run.completed;
    await eventually(() => expect(run.client.state).toBe('live'));
    expect(subscribers()).toBe(1);
    // The initial sync's change of `a` reached its callback too.
    expect(onA.map(brief)).toEqual([['put', 0, 1]]);

    try {
      // A later write of the same key waits until the earlier one is seen:
      // the server keeps only each key's latest version, so two writes of a
      // key that land before the feed reads them arrive once, at the later rev.
      const r1 = await put(env.server, storeId, 'a', 1);
      await eventually(() => expect(onA).toHaveLength(2));
      const r2 = await put(env.server, storeId, 'b', 1);
      // One transaction: `a` is put then deleted, so only the delete exists to send.
      const [r3, r4, r5] = await bulk(env.server, storeId, [
        { op: 'put', key: 'a', value: 2 },
        { op: 'delete', key: 'a' },
        { op: 'put', key: 'c', value: 1 },
      ]);
      await eventually(() => expect(onA).toHaveLength(3));
      const r6 = await put(env.server, storeId, 'a', 3);
      await eventually(() => expect(onA).toHaveLength(4));
      offBToo();
      const r7 = await put(env.server, storeId, 'b', 2);
      await eventually(() => expect(onB).toHaveLength(2));

      expect(onA.slice(1).map(brief)).toEqual([
        ['put', 1, r1.rev],
        ['delete', undefined, r4!.rev],
        ['put', 3, r6.rev],
      ]);
      expect(r3!.rev).toBe(r4!.rev - 1);
      expect(onA[2]!.ts).toBe(r4!.ts); // the server's ts, verbatim
      expect(onB.map(brief)).toEqual([
        ['put', 1, r2.rev],
        ['put', 2, r7.rev],
      ]);
      expect(onBToo.map(brief)).toEqual([['put', 1, r2.rev]]);
      // onChange saw every live change once, in strictly increasing rev order.
      const live = run.changes.slice(1);
      expect(live.map((c) => c.rev)).toEqual([r1.rev, r2.rev, r4!.rev, r5!.rev, r6.rev, r7.rev]);
      expectRevsIncrease(live);
    } finally {
      await run.client.unsubscribe();
    }
    expect(run.client.state).toBe('stopped');
    await eventually(() => expect(subscribers()).toBe(0));
    await put(env.server, storeId, 'a', 4);
    await put(env.server, storeId, 'b', 3);
    await sleep(600); // more than a heartbeat: a feed still open would have delivered by now
    expect(onA).toHaveLength(4);
    expect(onB).toHaveLength(2);
    expect(run.changes).toHaveLength(7);
    expect(run.errors).toEqual([]);
  });

  it('stops with StoreDeletedError through onError when the store is deleted', async () => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, manyOps(10));
    const run = start(env.server, { storeId, store: new MemoryStore() });
    await run.completed;
    await eventually(() => expect(run.client.state).toBe('live'));
    expect(subscribers()).toBe(1);

    expect((await call(env.server, `/v1/stores/${storeId}`, { method: 'DELETE' })).status).toBe(204);
    await eventually(() => expect(run.errors).toHaveLength(1));
    expect(run.errors[0]).toBeInstanceOf(StoreDeletedError);
    expect((run.errors[0] as StoreDeletedError).storeId).toBe(storeId);
    expect(run.client.state).toBe('stopped');
    await eventually(() => expect(subscribers()).toBe(0));
    await run.client.unsubscribe(); // harmless after a stop
    expect(run.errors).toHaveLength(1);
  });

  it('keeps a FileStore replica across a client restart and resumes with `since`, moving only the changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keysync-e2e-'));
    try {
      const storeId = await newStore(env.server);
      await bulk(env.server, storeId, manyOps(80));
      let store = await FileStore.open(dir);
      const first = start(env.server, { storeId, store, batchSize: 20 });
      await first.completed;
      await put(env.server, storeId, 'live/1', 'seen live');
      await eventually(async () => expect((await store.get('live/1'))?.rev).toBe(81));
      await first.client.unsubscribe();
      await store.close();

      // While no client runs: 2 changes, 1 new key, 2 deletes.
      await put(env.server, storeId, 'users/k0000', 'changed');
      await put(env.server, storeId, 'docs/a b/k0001', 'changed');
      await put(env.server, storeId, 'new', 1);
      await del(env.server, storeId, 'ünï/k0002');
      await del(env.server, storeId, 'live/1');

      store = await FileStore.open(dir);
      expect(await store.getCheckpoint()).toBe(81);
      const t = traffic();
      const again = start(env.server, { storeId, store, fetch: t.fetch, batchSize: 20 });
      await again.completed;
      try {
        expect(t.handshakes).toEqual([{ since: 81, batchSize: 20, listStale: false, inline: true }]);
        expect(t.batchKeys.sort()).toEqual(['docs/a b/k0001', 'new', 'users/k0000']);
        expect(t.handshakeAnswers[0]!.body.removed.sort()).toEqual(['live/1', 'ünï/k0002']);
        expect(again.changes.map((c) => [c.key, c.op]).sort()).toEqual([
          ['docs/a b/k0001', 'put'],
          ['live/1', 'delete'],
          ['new', 'put'],
          ['users/k0000', 'put'],
          ['ünï/k0002', 'delete'],
        ]);
        expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId));
        expect(await store.getCheckpoint()).toBe(86);
        // The feed resumes from the new checkpoint.
        await eventually(() => expect(t.feeds.length).toBeGreaterThan(0));
        expect(t.feeds[0]).toEqual({ lastEventId: null, since: '86' });
      } finally {
        await again.client.unsubscribe();
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
