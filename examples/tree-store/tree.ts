/**
 * A persistent, copy-on-write B+-tree kept in a keysync store.
 *
 * Every node is a key of the store named `n/` + a random UUID; the key `db` names
 * the current root. An update never changes a node: it writes new copies of
 * the nodes on the path from the changed leaves to the root, then a new `db`,
 * all in ONE `writes` call (nodes first, children before parents, `db` last),
 * so readers see either the old tree or the new one. The nodes the new tree no
 * longer uses stay in the store as garbage.
 *
 * The store is registered with a walk from `db` (keysync then syncs only the
 * nodes of the current tree) and `db` ranked last (a replica receives the
 * nodes before the root that names them):
 *
 *     db ──root──► branch ──children[*]──► branch ... ──► leaf {keys, vals}
 *
 * One writer per tree: the writes route has no per-op precondition, so two
 * concurrent writers would each publish a complete tree and the last `db`
 * would win (a lost update, never a broken tree).
 */
import { randomUUID } from 'node:crypto';

/** Most entries of a leaf and most children of a branch. */
export const FANOUT = 8;
/** The key naming the current root. */
export const DB_KEY = 'db';
/**
 * Node keys are this prefix plus a random UUID. Bare UUIDs would not do: one
 * in 256 starts with "db" (UUIDs are hex), would take `db`'s rank and be
 * delivered after the nodes that name it.
 */
export const NODE_PREFIX = 'n/';

/** A new node key. */
export const newNodeKey = () => NODE_PREFIX + randomUUID();

/** The sync options the store is registered with: walk from `db`, deliver `db` last. */
export const TREE_OPTIONS = {
  walk: { roots: [DB_KEY], refs: ['$.root', '$.children[*]'] },
  order: [{ prefix: DB_KEY, rank: 1 }],
};

export interface Leaf {
  t: 'leaf';
  keys: string[];
  vals: unknown[];
}
export interface Branch {
  t: 'branch';
  /** keys[i] is the smallest key under children[i] */
  keys: string[];
  children: string[];
}
export type TreeNode = Leaf | Branch;
/** The value of `db`. */
export interface DbRecord {
  root: string | null;
  version: number;
  size: number;
}

export type TreeOp = { key: string; value: unknown } | { key: string; delete: true };

/** Reads the value of a store key (a node or `db`); undefined when absent. */
export type ReadKey = (key: string) => Promise<unknown>;

/**
 * Every entry of the tree whose root `db` names, in key order.
 *
 * @example
 * const entries = await readTree((key) => localReplica.get(key));
 */
export async function readTree(read: ReadKey): Promise<Array<[string, unknown]>> {
  const db = (await read(DB_KEY)) as DbRecord | undefined;
  const out: Array<[string, unknown]> = [];
  if (!db?.root) return out;
  const visit = async (id: string): Promise<void> => {
    const node = (await read(id)) as TreeNode | undefined;
    if (!node) throw new Error(`node ${id} is missing`);
    if (node.t === 'leaf') node.keys.forEach((k, i) => out.push([k, node.vals[i]]));
    else for (const child of node.children) await visit(child);
  };
  await visit(db.root);
  return out;
}

/** The keys of the current tree: `db` and every node it reaches. */
export async function treeKeys(read: ReadKey): Promise<Set<string>> {
  const keys = new Set<string>();
  const db = (await read(DB_KEY)) as DbRecord | undefined;
  if (!db) return keys;
  keys.add(DB_KEY);
  const stack = db.root ? [db.root] : [];
  while (stack.length > 0) {
    const id = stack.pop()!;
    keys.add(id);
    const node = (await read(id)) as TreeNode;
    if (node.t === 'branch') stack.push(...node.children);
  }
  return keys;
}

/**
 * Applies ops to the tree copy-on-write and returns what to write: the new
 * nodes in post-order (children before parents) and the new `db`. Nodes
 * created earlier in the same update are changed in place, so an update of
 * many keys writes each new node once.
 */
export async function planUpdate(
  read: (id: string) => Promise<TreeNode>,
  db: DbRecord,
  ops: TreeOp[],
): Promise<{ nodes: Array<[string, TreeNode]>; db: DbRecord }> {
  const fresh = new Map<string, TreeNode>();
  const load = async (id: string) => fresh.get(id) ?? (await read(id));
  /** Stores a changed copy of node `id`: in place when the node is fresh, else under a new id. */
  const save = (id: string | undefined, node: TreeNode): string => {
    const target = id !== undefined && fresh.has(id) ? id : newNodeKey();
    fresh.set(target, node);
    return target;
  };
  let root = db.root;
  let size = db.size;

  for (const op of ops) {
    if ('delete' in op) {
      if (root === null) continue;
      const result = await remove(root, op.key);
      if (!result.found) continue;
      size -= 1;
      root = result.id;
      // A branch with one child is replaced by that child.
      while (root !== null) {
        const node = await load(root);
        if (node.t === 'leaf' || node.children.length > 1) break;
        root = node.children[0]!;
      }
    } else {
      if (root === null) {
        root = save(undefined, { t: 'leaf', keys: [op.key], vals: [op.value] });
        size += 1;
        continue;
      }
      const parts = await insert(root, op.key, op.value);
      root = parts.length === 1 ? parts[0]!.id : save(undefined, { t: 'branch', keys: parts.map((p) => p.first), children: parts.map((p) => p.id) });
    }
  }

  async function insert(id: string, key: string, value: unknown): Promise<Array<{ id: string; first: string }>> {
    const node = await load(id);
    if (node.t === 'leaf') {
      const keys = [...node.keys];
      const vals = [...node.vals];
      const i = lowerBound(keys, key);
      if (keys[i] === key) vals[i] = value;
      else {
        keys.splice(i, 0, key);
        vals.splice(i, 0, value);
        size += 1;
      }
      return split(id, keys, (k, from, to) => ({ t: 'leaf', keys: k, vals: vals.slice(from, to) }));
    }
    const i = Math.max(0, upperBound(node.keys, key) - 1);
    const parts = await insert(node.children[i]!, key, value);
    const keys = [...node.keys];
    const children = [...node.children];
    keys.splice(i, 1, ...parts.map((p) => p.first));
    children.splice(i, 1, ...parts.map((p) => p.id));
    return split(id, keys, (k, from, to) => ({ t: 'branch', keys: k, children: children.slice(from, to) }));
  }

  /** One node, or two halves when it holds more than FANOUT entries. */
  function split(id: string, keys: string[], make: (keys: string[], from: number, to: number) => TreeNode): Array<{ id: string; first: string }> {
    if (keys.length <= FANOUT) return [{ id: save(id, make(keys, 0, keys.length)), first: keys[0]! }];
    const mid = keys.length >> 1;
    return [
      { id: save(id, make(keys.slice(0, mid), 0, mid)), first: keys[0]! },
      { id: save(undefined, make(keys.slice(mid), mid, keys.length)), first: keys[mid]! },
    ];
  }

  /** Removes `key` under node `id`; `id: null` when the node became empty. Nodes may underflow (no merging). */
  async function remove(id: string, key: string): Promise<{ found: boolean; id: string | null }> {
    const node = await load(id);
    if (node.t === 'leaf') {
      const i = lowerBound(node.keys, key);
      if (node.keys[i] !== key) return { found: false, id };
      const keys = node.keys.filter((_, j) => j !== i);
      if (keys.length === 0) return { found: true, id: null };
      return { found: true, id: save(id, { t: 'leaf', keys, vals: node.vals.filter((_, j) => j !== i) }) };
    }
    const i = Math.max(0, upperBound(node.keys, key) - 1);
    const result = await remove(node.children[i]!, key);
    if (!result.found) return { found: false, id };
    const keys = [...node.keys];
    const children = [...node.children];
    if (result.id === null) {
      keys.splice(i, 1);
      children.splice(i, 1);
      if (children.length === 0) return { found: true, id: null };
    } else {
      children[i] = result.id;
      // The smallest key of the child may have been the one removed.
      keys[i] = await firstKey(result.id);
    }
    return { found: true, id: save(id, { t: 'branch', keys, children }) };
  }

  /** A leaf's keys[0], or a branch's keys[0] (the smallest key under its first child). */
  async function firstKey(id: string): Promise<string> {
    return (await load(id)).keys[0]!;
  }

  // Only fresh nodes the new root still reaches are written (a fresh node may
  // have been emptied and dropped later in the same update), children first.
  const nodes: Array<[string, TreeNode]> = [];
  const emit = (id: string) => {
    const node = fresh.get(id);
    if (!node) return; // an unchanged subtree: already in the store
    if (node.t === 'branch') node.children.forEach(emit);
    nodes.push([id, node]);
  };
  if (root !== null) emit(root);
  return { nodes, db: { root, version: db.version + 1, size } };
}

function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface TreeClientOptions {
  /** e.g. http://127.0.0.1:8787 */
  baseUrl: string;
  storeId: string;
  /** a bearer token with write scope (or the admin token), if the server needs one */
  token?: string;
  fetch?: typeof fetch;
}

/** The tree of one keysync store, read and written over HTTP. */
export class KeysyncTree {
  /** Nodes never change once written, so a node read once is cached for good. */
  private readonly nodes = new Map<string, TreeNode>();
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: TreeClientOptions) {
    this.fetch = opts.fetch ?? fetch;
  }

  /**
   * Registers the store of `config` with TREE_OPTIONS (idempotent) and returns its tree.
   *
   * @example
   * const tree = await KeysyncTree.register({ baseUrl: 'http://127.0.0.1:8787' }, { scope: randomUUID(), name: 'docs' });
   * await tree.update([{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
   */
  static async register(opts: Omit<TreeClientOptions, 'storeId'>, config: { scope: string; [k: string]: unknown }): Promise<KeysyncTree> {
    const tree = new KeysyncTree({ ...opts, storeId: '' });
    const res = await tree.request('POST', '/v1/stores', { config, options: TREE_OPTIONS });
    const body = (await res.json()) as { storeId: string };
    return new KeysyncTree({ ...opts, storeId: body.storeId });
  }

  get storeId(): string {
    return this.opts.storeId;
  }

  /** The current `db` record (an empty tree when the store has none yet). */
  async head(): Promise<DbRecord> {
    return ((await this.readKey(DB_KEY)) as DbRecord | undefined) ?? { root: null, version: 0, size: 0 };
  }

  /** The value under `key`, or undefined. */
  async get(key: string): Promise<unknown> {
    let id = (await this.head()).root;
    while (id !== null) {
      const node = await this.node(id);
      if (node.t === 'leaf') {
        const i = lowerBound(node.keys, key);
        return node.keys[i] === key ? node.vals[i] : undefined;
      }
      id = node.children[Math.max(0, upperBound(node.keys, key) - 1)]!;
    }
    return undefined;
  }

  /** Every entry, in key order. */
  entries(): Promise<Array<[string, unknown]>> {
    return readTree((key) => (key === DB_KEY ? this.readKey(key) : this.node(key)));
  }

  /**
   * Applies `ops` as one new version: the new nodes, then the new `db`, in one
   * atomic `writes` call. Returns the new `db` and how many nodes were written.
   */
  async update(ops: TreeOp[]): Promise<{ db: DbRecord; nodesWritten: number; rev: number }> {
    const current = await this.head();
    const plan = await planUpdate((id) => this.node(id), current, ops);
    const writes = [...plan.nodes.map(([key, value]) => ({ op: 'put', key, value })), { op: 'put', key: DB_KEY, value: plan.db }];
    const res = await this.request('POST', `/v1/stores/${this.opts.storeId}/writes`, { ops: writes });
    const body = (await res.json()) as { results: Array<{ rev: number }> };
    for (const [id, node] of plan.nodes) this.nodes.set(id, node);
    return { db: plan.db, nodesWritten: plan.nodes.length, rev: body.results[body.results.length - 1]!.rev };
  }

  set(key: string, value: unknown) {
    return this.update([{ key, value }]);
  }

  delete(key: string) {
    return this.update([{ key, delete: true }]);
  }

  private async node(id: string): Promise<TreeNode> {
    let node = this.nodes.get(id);
    if (!node) {
      node = (await this.readKey(id)) as TreeNode | undefined;
      if (!node) throw new Error(`tree node ${id} is missing from store ${this.opts.storeId}`);
      this.nodes.set(id, node);
    }
    return node;
  }

  /** The raw value of a store key (a node or `db`), or undefined; for tools such as `treeKeys`. */
  async readKey(key: string): Promise<unknown> {
    const res = await this.request('GET', `/v1/stores/${this.opts.storeId}/keys/${encodeURIComponent(key)}`, undefined, [404]);
    return res.status === 404 ? undefined : res.json();
  }

  private async request(method: string, path: string, body?: unknown, allowed: number[] = []): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.token) headers['authorization'] = `Bearer ${this.opts.token}`;
    const res = await this.fetch(this.opts.baseUrl.replace(/\/$/, '') + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok && !allowed.includes(res.status)) {
      throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    }
    return res;
  }
}
