/**
 * The tree-store example (examples/tree-store) against a real server: a
 * copy-on-write B+-tree whose store syncs only the nodes `db` reaches, with
 * `db` delivered last, and whose garbage comes back as `removed`.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DB_KEY, FANOUT, KeysyncTree, TREE_OPTIONS, readTree, treeKeys, type TreeNode, type TreeOp } from '../../examples/tree-store/tree.js';
import { call } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { feedKeys, freshSync, syncAll, type Entry } from './helpers.js';

const env = useTestServer();

const newTree = () => KeysyncTree.register({ baseUrl: env.server.url }, { scope: randomUUID(), example: 'tree-store' });
const pad = (i: number) => `k${String(i).padStart(4, '0')}`;

/** All keys of the store (live ones), from the key listing. */
async function storeKeys(storeId: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '1000', ...(after !== undefined ? { after } : {}) });
    const page = await call(env.server, `/v1/stores/${storeId}/keys?${q}`);
    for (const item of page.body.items) if (!item.deleted) out.set(item.key, item.ts);
    if (!page.body.next) return out;
    after = page.body.next;
  }
}

/** A replica of the store's synced entries, read as a tree. */
const replicaReader = (held: Map<string, Entry>) => async (key: string) => held.get(key)?.value;

describe('examples/tree-store', () => {
  it('registers the store with a walk from db and db ranked last', async () => {
    const tree = await newTree();
    const store = await call(env.server, `/v1/stores/${tree.storeId}`);
    expect(store.body.options).toEqual(TREE_OPTIONS);
  });

  it('gives a fresh client only the reachable nodes, every node before the nodes and db that name it', async () => {
    const tree = await newTree();
    const model = new Map<string, unknown>();
    for (let v = 0; v < 6; v++) {
      const ops: TreeOp[] = Array.from({ length: 40 }, (_, i) => ({ key: pad((i * 7 + v * 13) % 150), value: { v, i } }));
      if (v > 2) ops.push({ key: pad(v), delete: true });
      await tree.update(ops);
      for (const op of ops) 'delete' in op ? model.delete(op.key) : model.set(op.key, op.value);
    }
    const expected = [...model].sort(([a], [b]) => (a < b ? -1 : 1));
    expect(await tree.entries()).toEqual(expected);

    const all = await storeKeys(tree.storeId);
    const live = await treeKeys((key) => tree.readKey(key));
    expect(all.size).toBeGreaterThan(live.size); // there is garbage

    const { hs, entries } = await freshSync(env.server, tree.storeId, { batchSize: 7 });
    expect(new Set(hs.stale)).toEqual(live);
    expect(entries.map((e) => e.key)).toEqual(hs.stale);
    expect(entries[entries.length - 1]!.key).toBe(DB_KEY);
    const position = new Map(entries.map((e, i) => [e.key, i]));
    for (const e of entries) {
      const node = e.value as TreeNode | { root: string };
      const refs = 'root' in node ? [node.root] : node.t === 'branch' ? node.children : [];
      for (const ref of refs) expect(position.get(ref)!).toBeLessThan(position.get(e.key)!);
    }
    for (const e of entries) if (e.key !== DB_KEY) expect((e.value as TreeNode).keys.length).toBeLessThanOrEqual(FANOUT);

    const held = new Map(entries.map((e) => [e.key, e]));
    expect(await readTree(replicaReader(held))).toEqual(expected);
  });

  it('reports the garbage nodes a client holds as removed on a have handshake, and converges', async () => {
    const tree = await newTree();
    await tree.update(Array.from({ length: 100 }, (_, i) => ({ key: pad(i), value: i })));
    const first = await freshSync(env.server, tree.storeId);
    const held = new Map(first.entries.map((e) => [e.key, e]));

    for (let v = 1; v <= 3; v++)
      await tree.update([
        { key: pad(v * 10), value: `v${v}` },
        { key: pad(200 + v), value: v },
        { key: pad(v), delete: true },
      ]);
    const live = await treeKeys((key) => tree.readKey(key));
    const garbageHeld = [...held.keys()].filter((k) => !live.has(k)).sort();
    expect(garbageHeld.length).toBeGreaterThan(0);

    // since: only changes; garbage is not deleted, so nothing is removed.
    const since = await syncAll(env.server, tree.storeId, { since: first.hs.headRev });
    expect(since.hs.removed).toEqual([]);
    expect(since.hs.stale.filter((k) => !live.has(k))).toEqual([]);
    expect(since.hs.stale[since.hs.stale.length - 1]).toBe(DB_KEY);

    const have = Object.fromEntries([...held].map(([k, e]) => [k, e.ts]));
    const { hs, entries } = await syncAll(env.server, tree.storeId, { have });
    expect([...hs.removed].sort()).toEqual(garbageHeld);
    // Nodes never change once written: a held node is never stale, only db is.
    expect(hs.stale.filter((k) => !live.has(k) || (held.has(k) && k !== DB_KEY))).toEqual([]);
    expect(entries[entries.length - 1]!.key).toBe(DB_KEY);

    for (const key of hs.removed) held.delete(key);
    for (const e of entries) held.set(e.key, e);
    expect(new Set(held.keys())).toEqual(live);
    expect(await readTree(replicaReader(held))).toEqual(await tree.entries());
  });

  it('delivers an update on the live feed nodes first, db last', async () => {
    const tree = await newTree();
    await tree.update(Array.from({ length: 30 }, (_, i) => ({ key: pad(i), value: i })));
    const feed = await openFeed(env.server, tree.storeId);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    const { nodesWritten } = await tree.update([
      { key: pad(5), value: 'new' },
      { key: pad(99), value: 'added' },
    ]);
    await feed.waitFor(({ events: evs }) => feedKeys(evs).includes(DB_KEY));
    feed.close();
    const keys = feedKeys(feed.events);
    expect(keys).toHaveLength(nodesWritten + 1);
    expect(keys[keys.length - 1]).toBe(DB_KEY);
  });

  it('matches a Map model under random updates, read from the server and from a have-synced replica', async () => {
    const tree = await newTree();
    const model = new Map<string, unknown>();
    const held = new Map<string, Entry>();
    const opArb: fc.Arbitrary<TreeOp> = fc.oneof(
      fc.record({ key: fc.integer({ min: 0, max: 60 }).map(pad), value: fc.integer() }),
      fc.record({ key: fc.integer({ min: 0, max: 60 }).map(pad), delete: fc.constant(true as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        await tree.update(ops);
        for (const op of ops) 'delete' in op ? model.delete(op.key) : model.set(op.key, op.value);
        const expected = [...model].sort(([a], [b]) => (a < b ? -1 : 1));
        expect(await tree.entries()).toEqual(expected);
        const { hs, entries } = await syncAll(env.server, tree.storeId, { have: Object.fromEntries([...held].map(([k, e]) => [k, e.ts])) });
        for (const key of hs.removed) held.delete(key);
        for (const e of entries) held.set(e.key, e);
        expect(await readTree(replicaReader(held))).toEqual(expected);
      }),
      { numRuns: 15 },
    );
  });
});
