import { describe, expect, it } from 'vitest';
import { applyWrites } from '../../src/store/writes.js';
import { bulk, call, del, json, keyPath, newStore, put } from '../support/http.js';
import { Replica, serverSnapshot } from '../support/replica.js';
import { startServer, useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { expectProblem, feedKeys, freshSync, reachable, subset, syncAll } from './helpers.js';

const env = useTestServer();

const walk = { roots: ['root'], refs: ['$.children[*]', '$..address'] };
const refsOf = (v: any): string[] => {
  const out: string[] = [];
  if (v && Array.isArray(v.children)) out.push(...v.children.filter((c: unknown) => typeof c === 'string'));
  const visit = (x: any) => {
    if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) k === 'address' && typeof y === 'string' ? out.push(y) : visit(y);
  };
  visit(v);
  return out;
};

async function treeStore(options: Record<string, unknown> = { walk }): Promise<string> {
  const storeId = await newStore(env.server, options);
  await bulk(env.server, storeId, [
    { op: 'put', key: 'a', value: { children: ['a1', 'a2'] } },
    { op: 'put', key: 'a1', value: { leaf: 1, meta: { deep: [{ address: 'x' }] } } },
    { op: 'put', key: 'a2', value: 'just a string' },
    { op: 'put', key: 'x', value: { children: [] } },
    { op: 'put', key: 'b', value: { children: ['b1'] } },
    { op: 'put', key: 'b1', value: 1 },
    { op: 'put', key: 'garbage', value: { children: ['a'] } },
    { op: 'put', key: 'root', value: { children: ['a', 'missing', 42, null], address: 'blob' } },
  ]);
  const blob = await call(env.server, keyPath(storeId, 'blob'), { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: 'b' });
  expect(blob.status).toBe(200);
  return storeId;
}

describe('options.walk over HTTP', () => {
  it('sends only the keys reachable from the roots; byte values are reached but have no refs', async () => {
    const storeId = await treeStore();
    const { hs, entries } = await freshSync(env.server, storeId);
    expect([...hs.stale].sort()).toEqual(['a', 'a1', 'a2', 'blob', 'root', 'x']);
    expect(entries.map((e) => e.key)).toEqual(hs.stale);
    const snapshot = await serverSnapshot(env.server, storeId);
    const replica = new Replica();
    await replica.sync(env.server, storeId);
    expect(replica.snapshot()).toEqual(subset(snapshot, (k) => reachable(snapshot, walk.roots, refsOf).has(k)));
  });

  it('follows cycles once and ignores dangling refs and a missing root', async () => {
    const storeId = await newStore(env.server, { walk: { roots: ['r1', 'r2', 'nope'], refs: ['$.next', '$.also[*]'] } });
    await bulk(env.server, storeId, [
      { op: 'put', key: 'r1', value: { next: 'c1' } },
      { op: 'put', key: 'c1', value: { next: 'c2', also: ['c1', 'dangling'] } },
      { op: 'put', key: 'c2', value: { next: 'r1' } },
      { op: 'put', key: 'self', value: { next: 'self' } },
      { op: 'put', key: 'deleted', value: { next: 'behind-deleted' } },
      { op: 'put', key: 'behind-deleted', value: 0 },
      { op: 'put', key: 'r2', value: { next: 'deleted' } },
    ]);
    await del(env.server, storeId, 'deleted');
    const { hs } = await freshSync(env.server, storeId);
    expect([...hs.stale].sort()).toEqual(['c1', 'c2', 'r1', 'r2']);
  });

  it('reports held unreachable keys as removed on a have handshake, and only tombstones on a since handshake', async () => {
    const storeId = await treeStore();
    const replica = new Replica();
    await replica.sync(env.server, storeId);
    // The client also held keys from before they became garbage.
    const old = await call(env.server, keyPath(storeId, 'b'));
    expect(old.status).toBe(200);
    const held = await freshSync(env.server, storeId);
    const have: Record<string, string> = Object.fromEntries(held.entries.map((e) => [e.key, e.ts]));
    const listing = await call(env.server, `/v1/stores/${storeId}/keys`);
    for (const item of listing.body.items) if (item.key === 'b' || item.key === 'garbage') have[item.key] = item.ts;

    // root drops a (a, a1, a2, x become garbage) and points at b instead.
    await put(env.server, storeId, 'root', { children: ['b'] });
    const since = await syncAll(env.server, storeId, { since: held.hs.headRev });
    expect(since.hs.stale).toEqual(['root']);
    expect(since.hs.removed).toEqual([]);

    const { hs, entries } = await syncAll(env.server, storeId, { have });
    expect(hs.stale).toEqual(['b1', 'root']); // b is held at its current ts
    expect(entries.map((e) => e.key)).toEqual(['b1', 'root']);
    expect([...hs.removed].sort()).toEqual(['a', 'a1', 'a2', 'blob', 'garbage', 'x']);

    // The reference replica converges to the reachable subset after a have handshake.
    await replica.sync(env.server, storeId, { mode: 'have' });
    const snapshot = await serverSnapshot(env.server, storeId);
    expect(replica.snapshot()).toEqual(subset(snapshot, (k) => ['root', 'b', 'b1'].includes(k)));
  });

  it('applies the filter on top of the walk, and walks through filtered keys', async () => {
    const storeId = await treeStore({ walk, filter: { excludePrefixes: ['a1'] } });
    const { hs } = await freshSync(env.server, storeId);
    expect([...hs.stale].sort()).toEqual(['a', 'a2', 'blob', 'root', 'x']);
  });

  it('limits a since handshake to reachable keys changed after that rev', async () => {
    const storeId = await treeStore();
    const { hs: first } = await freshSync(env.server, storeId);
    await bulk(env.server, storeId, [
      { op: 'put', key: 'new', value: 1 },
      { op: 'put', key: 'unreached', value: 1 },
      { op: 'put', key: 'x', value: { children: ['new'] } },
    ]);
    const { hs } = await syncAll(env.server, storeId, { since: first.headRev });
    expect(hs.stale).toEqual(['new', 'x']);
  });

  it('does not walk the live feed: new nodes arrive before the root that reaches them', async () => {
    const storeId = await treeStore();
    const feed = await openFeed(env.server, storeId);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    await bulk(env.server, storeId, [
      { op: 'put', key: 'n1', value: 1 },
      { op: 'put', key: 'n2', value: { children: ['n1'] } },
      { op: 'put', key: 'root', value: { children: ['n2'] } },
    ]);
    await put(env.server, storeId, 'never-reachable', 1);
    await feed.waitFor(({ events: evs }) => feedKeys(evs).includes('never-reachable'));
    feed.close();
    expect(feedKeys(feed.events)).toEqual(['n1', 'n2', 'root', 'never-reachable']);
  });

  it('answers 422 walk-failed, not 500, when the walk exceeds its key limit', async () => {
    const limited = await startServer(env.db, { walkLimits: { maxWalkKeys: 3 } });
    try {
      const storeId = await treeStore();
      const res = await call(limited, `/v1/stores/${storeId}/sync`, json({ have: {} }));
      expectProblem(res, 422, 'walk-failed');
      expect(res.body.detail).toMatch(/limit of 3 keys \(KEYSYNC_WALK_MAX_KEYS\)/);
      // Within the limit it works on the same server.
      const small = await newStore(env.server, { walk });
      await put(env.server, small, 'root', { children: ['a'] });
      expect((await call(limited, `/v1/stores/${small}/sync`, json({ have: {} }))).status).toBe(201);
    } finally {
      await limited.close();
    }
  });

  it('never stores a value too deep to walk: the write is refused (KEYSYNC_MAX_JSON_DEPTH) and the store keeps syncing', async () => {
    const storeId = await newStore(env.server, { walk: { roots: ['root'], refs: ['$..address'] } });
    const depth = 3_000; // deeper than jsonpath-plus recurses
    const deep = '{"a":'.repeat(depth) + '"x"' + '}'.repeat(depth);
    const res = await call(env.server, keyPath(storeId, 'root'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: deep });
    expectProblem(res, 400, 'json-too-deep');
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }));
    expect(hs.status, JSON.stringify(hs.body)).toBe(201);
  });

  it('syncs a store holding a value nested too deeply to walk: that value is sent, its refs are not followed', async () => {
    const storeId = await newStore(env.server, { walk: { roots: ['root'], refs: ['$.next', '$..address'] } });
    const depth = 1500; // past the walk's depth budget (1000)
    const deep = '{"next":"n","a":' + '{"a":'.repeat(depth) + '"x"' + '}'.repeat(depth) + '}';
    await put(env.server, storeId, 'n', 1);
    // Written below the HTTP layer: a value stored before a nesting limit on writes existed.
    await applyWrites(env.db.database.db, storeId, [{ op: 'put', key: 'root', json: deep }]);
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }));
    expect(hs.status, JSON.stringify(hs.body)).toBe(201);
    expect(hs.body.stale).toEqual(['root']);
  });
});
