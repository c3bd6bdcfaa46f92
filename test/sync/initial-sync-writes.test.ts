import { describe, expect, it } from 'vitest';
import { bulk, del, newStore, put } from '../support/http.js';
import { Replica, serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { ack, fetchBatch, startSync } from '../support/sync.js';

const env = useTestServer();

describe('writes during the initial sync', () => {
  it('leave the replica equal to the store after the batches and the live feed from headRev', async () => {
    const storeId = await newStore(env.server);
    await bulk(
      env.server,
      storeId,
      Array.from({ length: 300 }, (_, i) => ({ op: 'put', key: `k${String(i).padStart(3, '0')}`, value: { v: 0, i } })),
    );
    // The replica already holds some keys from an earlier life (one of them since deleted on the server).
    const replica = new Replica();
    const early = await put(env.server, storeId, 'held', 'early');
    replica.apply({ key: 'held', rev: early.rev, ts: early.ts, value: 'early' });
    const doomed = await put(env.server, storeId, 'doomed', 1);
    replica.apply({ key: 'doomed', rev: doomed.rev, ts: doomed.ts, value: 1 });
    await del(env.server, storeId, 'doomed');

    const hs = await startSync(env.server, storeId, { have: replica.have(), batchSize: 50 });
    expect(hs.batches).toBe(6); // the 300 k-keys; `held` is up to date
    expect(hs.stale).not.toContain('held');
    expect(hs.removed).toEqual(['doomed']);
    for (const key of hs.removed) replica.apply({ key, rev: hs.headRev, ts: '', deleted: true });

    let lastRev = hs.headRev;
    const track = <T extends { rev: number }>(r: T) => ((lastRev = Math.max(lastRev, r.rev)), r);
    // Writes between batches: keys of batches already applied, of batches to come, new keys, deletes.
    const between: Array<() => Promise<unknown>> = [
      async () => track(await put(env.server, storeId, 'k010', { v: 1 })), // already delivered
      async () => track(await put(env.server, storeId, 'k290', { v: 1 })), // still to come
      async () => track(await del(env.server, storeId, 'k020')),
      async () => track(await del(env.server, storeId, 'k280')),
      async () => track(await put(env.server, storeId, 'fresh', 'new key')),
      async () =>
        (
          await bulk(env.server, storeId, [
            { op: 'put', key: 'k150', value: { v: 2 } },
            { op: 'delete', key: 'k151' },
            { op: 'put', key: 'bytes', base64: Buffer.from([0, 1, 2, 255]).toString('base64'), contentType: 'application/octet-stream' },
            { op: 'put', key: 'k010', value: { v: 2 } },
          ])
        ).map(track),
      async () => track(await put(env.server, storeId, 'held', 'late')),
    ];
    let stepIndex = 0;
    for (let cursor = 0; cursor < hs.batches; cursor++) {
      await between[stepIndex++]?.();
      const batch = await fetchBatch(env.server, storeId, hs.sessionId, cursor);
      expect(batch.status).toBe(200);
      for (const entry of batch.body.entries) replica.apply(entry);
      await between[stepIndex++]?.();
      expect((await ack(env.server, storeId, hs.sessionId, cursor)).status).toBe(200);
    }
    while (stepIndex < between.length) await between[stepIndex++]!();

    const feed = await openFeed(env.server, storeId, `?since=${hs.headRev}`);
    try {
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
      // One more write after the feed is live.
      track(await put(env.server, storeId, 'after-ready', true));
      await feed.waitFor(({ events: evs }) => evs.some((e) => Number(e.id) === lastRev));
      const ids = feed.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.every((id) => id > hs.headRev)).toBe(true);
      for (const e of feed.events) if (e.event === 'put' || e.event === 'delete') replica.apply(e.data);
    } finally {
      feed.close();
    }
    expect(replica.snapshot()).toEqual(await serverSnapshot(env.server, storeId));
    expect(replica.data.get('k010')).toMatchObject({ value: { v: 2 } });
    expect(replica.data.get('k020')).toMatchObject({ deleted: true });
    expect(replica.data.get('held')).toMatchObject({ value: 'late' });
  });
});
