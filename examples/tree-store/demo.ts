/**
 * Demo of the tree-store example against a running keysync server:
 *
 *   npx tsx examples/tree-store/demo.ts http://127.0.0.1:8787
 *
 * Set KEYSYNC_TOKEN to the admin token when the server has one. The demo
 * registers a new store, writes a few versions of a tree, then plays a fresh
 * client: it receives only the nodes of the current tree, `db` last; after
 * more versions, a `have` handshake reports the nodes it holds that became
 * garbage as `removed`.
 */
import { randomUUID } from 'node:crypto';
import { DB_KEY, KeysyncTree, readTree, treeKeys } from './tree.js';

const baseUrl = (process.argv[2] ?? 'http://127.0.0.1:8787').replace(/\/$/, '');
const token = process.env.KEYSYNC_TOKEN;
const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };

interface Entry {
  key: string;
  rev: number;
  ts: string;
  value?: unknown;
  deleted?: true;
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(baseUrl + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A client's sync: handshake, then every batch (acknowledged) in delivery order. */
async function sync(storeId: string, have: Record<string, string>) {
  const hs = await api<{ sessionId: string; stale: string[]; removed: string[]; batches: number }>('POST', `/v1/stores/${storeId}/sync`, { have });
  const entries: Entry[] = [];
  for (let cursor = 0; cursor < hs.batches; cursor++) {
    const batch = await api<{ entries: Entry[] }>('GET', `/v1/stores/${storeId}/sync/${hs.sessionId}/batches/${cursor}`);
    entries.push(...batch.entries);
    await api('POST', `/v1/stores/${storeId}/sync/${hs.sessionId}/ack`, { cursor });
  }
  return { ...hs, entries };
}

async function countKeys(storeId: string): Promise<number> {
  let n = 0;
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '1000', ...(after !== undefined ? { after } : {}) });
    const page = await api<{ items: Array<{ deleted?: true }>; next: string | null }>('GET', `/v1/stores/${storeId}/keys?${q}`);
    n += page.items.filter((i) => !i.deleted).length;
    if (!page.next) return n;
    after = page.next;
  }
}

const key = (i: number) => `user/${String(i).padStart(5, '0')}`;

const tree = await KeysyncTree.register({ baseUrl, ...(token ? { token } : {}) }, { scope: randomUUID(), example: 'tree-store' });
console.log(`store ${tree.storeId} registered with a walk from "db" and "db" ranked last`);

let r = await tree.update(Array.from({ length: 500 }, (_, i) => ({ key: key(i), value: { name: `user ${i}`, visits: 0 } })));
console.log(`version ${r.db.version}: ${r.db.size} entries, ${r.nodesWritten} nodes written, then db (rev ${r.rev})`);
for (let v = 0; v < 5; v++) {
  const ops = Array.from({ length: 20 }, (_, i) => ({ key: key((i * 37 + v * 101) % 500), value: { name: 'updated', visits: v + 1 } }));
  r = await tree.update(ops);
  console.log(`version ${r.db.version}: ${ops.length} entries changed, ${r.nodesWritten} new nodes, the nodes they replace are garbage now`);
}

const live = await treeKeys((k) => tree.readKey(k));
console.log(`the store holds ${await countKeys(tree.storeId)} keys; the current tree uses ${live.size} of them (db included)`);

const fresh = await sync(tree.storeId, {});
const last = fresh.entries[fresh.entries.length - 1]!;
console.log(
  `fresh client: ${fresh.stale.length} keys in ${fresh.batches} batches, all reachable: ${fresh.stale.every((k) => live.has(k))}; last delivered: "${last.key}"`,
);
const local = new Map(fresh.entries.map((e) => [e.key, e]));
const same = JSON.stringify(await readTree(async (k) => local.get(k)?.value)) === JSON.stringify(await tree.entries());
console.log(`tree read from the client's copy equals the server's: ${same}`);

for (let v = 0; v < 3; v++)
  r = await tree.update([
    { key: key(v * 250), value: { name: 'again', visits: 9 } },
    { key: key(v + 1), delete: true },
  ]);
const again = await sync(tree.storeId, Object.fromEntries([...local].map(([k, e]) => [k, e.ts])));
console.log(
  `after 3 more versions, a have handshake: ${again.stale.length} stale (new nodes and ${DB_KEY}), ${again.removed.length} removed (garbage nodes the client held)`,
);
