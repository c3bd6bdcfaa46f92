/**
 * The library form of the options: plain functions registered per store id
 * through createKeysync({ policies }), exercised over real HTTP.
 */
import { describe, expect, it } from 'vitest';
import { storeId as deriveStoreId, type StoreConfig } from '@keysync/protocol';
import type { PolicyFunctions, ReadValues } from '../../src/options/index.js';
import { bulk, call, del, json, keyPath, put } from '../support/http.js';
import { Replica, serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { feedKeys, freshSync, subset, syncAll } from './helpers.js';

const config = (name: string): StoreConfig => ({ scope: '00000000-0000-4000-8000-000000000000', name: `${name}-${process.pid}` });
const FILTERED = config('library-filter');
const SORTED = config('library-sort');
const WALKED = config('library-walk');

const isPublic = (value: unknown) => typeof value === 'object' && value !== null && (value as { public?: unknown }).public === true;
const filterCalls: Array<[string, unknown]> = [];
const policies: Record<string, PolicyFunctions> = {
  [deriveStoreId(FILTERED)]: {
    // Public JSON values and every byte value.
    filter(key, value) {
      filterCalls.push([key, value]);
      return value === undefined || isPublic(value);
    },
  },
  [deriveStoreId(SORTED)]: {
    // Deeper keys later: "a" before "a/b" before "a/b/c".
    sortKey: (key) => key.split('/').length,
  },
  [deriveStoreId(WALKED)]: {
    // A linked list: each value names the next key in `next`; the roots come from options.walk.roots.
    async walk(read: ReadValues, roots: string[]) {
      const out: string[] = [];
      let frontier = roots;
      while (frontier.length > 0) {
        const values = await read(frontier);
        const next: string[] = [];
        for (const key of frontier) {
          out.push(key); // names of absent keys are fine: the walk's result is an allow-list
          const value = values.get(key) as { next?: string } | undefined;
          if (value?.next && !out.includes(value.next)) next.push(value.next);
        }
        frontier = next;
      }
      return out;
    },
  },
};

const env = useTestServer({ policies });

async function register(cfg: StoreConfig, options?: unknown): Promise<string> {
  const res = await call(env.server, '/v1/stores', json({ config: cfg, ...(options ? { options } : {}) }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.storeId).toBe(deriveStoreId(cfg));
  return res.body.storeId;
}

describe('library policies through createKeysync({ policies })', () => {
  it('filter(key, value) limits the handshake, the batches and the live feed; bytes are passed as undefined', async () => {
    const storeId = await register(FILTERED, { filter: { excludePrefixes: ['secret/'] } });
    await bulk(env.server, storeId, [
      { op: 'put', key: 'p1', value: { public: true } },
      { op: 'put', key: 'q1', value: { public: false } },
      { op: 'put', key: 'p2', value: { public: true, n: 2 } },
      { op: 'put', key: 'secret/p', value: { public: true } },
      { op: 'put', key: 'q2', value: 'text' },
      { op: 'put', key: 'bin', base64: 'AAE=', contentType: 'application/octet-stream' },
    ]);
    const replica = new Replica();
    const hs = await replica.sync(env.server, storeId);
    expect(hs.stale).toEqual(['p1', 'p2', 'bin']);
    expect(filterCalls).toContainEqual(['bin', undefined]);
    expect(replica.snapshot()).toEqual(subset(await serverSnapshot(env.server, storeId), (k) => ['p1', 'p2', 'bin'].includes(k)));

    // A value that turns private between the handshake and its batch is left out of the batch.
    const started = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }));
    expect(started.body.stale).toEqual(['p1', 'p2', 'bin']);
    await put(env.server, storeId, 'p2', { public: false });
    const batch = await call(env.server, `/v1/stores/${storeId}/sync/${started.body.sessionId}/batches/0`);
    expect(batch.body.entries.map((e: { key: string }) => e.key)).toEqual(['p1', 'bin']);

    // A held key whose value is filtered out comes back in removed on a have handshake.
    const again = await syncAll(env.server, storeId, { have: replica.have() });
    expect(again.hs.removed).toEqual(['p2']);

    // Live: puts are filtered by value, deletes pass on the key alone.
    const feed = await openFeed(env.server, storeId, '?since=0');
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    expect(feedKeys(feed.events)).toEqual(['p1', 'bin']);
    await bulk(env.server, storeId, [
      { op: 'put', key: 'q3', value: { public: false } },
      { op: 'put', key: 'p3', value: { public: true } },
      { op: 'put', key: 'secret/x', value: { public: true } },
      { op: 'delete', key: 'q1' },
    ]);
    await put(env.server, storeId, 'end', { public: true });
    await feed.waitFor(({ events: evs }) => feedKeys(evs).includes('end'));
    feed.close();
    expect(feedKeys(feed.events)).toEqual(['p1', 'bin', 'p3', 'q1', 'end']);
    expect(feed.events.find((e) => e.data?.key === 'q1')?.event).toBe('delete');
  });

  it('sortKey(key) decides the delivery order; rev order within a rank', async () => {
    const storeId = await register(SORTED, { order: [{ prefix: 'a/b/c', rank: -100 }] }); // sortKey replaces order
    await bulk(
      env.server,
      storeId,
      ['a/b/c', 'z', 'a/b', 'a', 'y/x', 'q/w/e/r'].map((key) => ({ op: 'put', key, value: key })),
    );
    const { hs, entries } = await freshSync(env.server, storeId, { batchSize: 2 });
    expect(hs.stale).toEqual(['z', 'a', 'a/b', 'y/x', 'a/b/c', 'q/w/e/r']);
    expect(entries.map((e) => e.key)).toEqual(hs.stale);
  });

  it('walk(read, roots) decides which keys are synced; held keys outside it are removed', async () => {
    const storeId = await register(WALKED, { walk: { roots: ['head'], refs: [] } });
    await bulk(env.server, storeId, [
      { op: 'put', key: 'n2', value: { next: 'n3' } },
      { op: 'put', key: 'n1', value: { next: 'n2' } },
      { op: 'put', key: 'head', value: { next: 'n1' } },
      { op: 'put', key: 'n3', value: { next: 'missing' } },
      { op: 'put', key: 'old', value: { next: 'n1' } },
    ]);
    const replica = new Replica();
    const hs = await replica.sync(env.server, storeId);
    expect(hs.stale).toEqual(['n2', 'n1', 'head', 'n3']);

    await put(env.server, storeId, 'head', { next: 'n3' });
    await del(env.server, storeId, 'n2');
    const have = { ...replica.have(), old: (await call(env.server, `/v1/stores/${storeId}/keys`)).body.items.find((i: { key: string }) => i.key === 'old').ts };
    const { hs: second } = await syncAll(env.server, storeId, { have });
    expect(second.stale).toEqual(['head']);
    expect([...second.removed].sort()).toEqual(['n1', 'n2', 'old']);
    const value = await call(env.server, keyPath(storeId, 'head'));
    expect(value.body).toEqual({ next: 'n3' });
  });
});
