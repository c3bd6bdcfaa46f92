/**
 * A LocalStore in IndexedDB: a browser replica that survives reloads, so the
 * next handshake sends `since` instead of downloading the store again.
 *
 * Layout: object store `records` (one LocalRecord per key, tombstones
 * included; bytes stay Uint8Array through structured clone) and `meta` (the
 * checkpoint). A batch and its checkpoint are written in one readwrite
 * transaction with `durability: 'strict'`, and applyBatch resolves on the
 * transaction's `complete`, so a batch is acked only once it is on disk.
 *
 * The rev guard reads the current records inside that same transaction, then
 * plans with the shared rules (plan.ts) and writes, with no other await in
 * between: IndexedDB serialises overlapping readwrite transactions, so two
 * tabs writing the same database cannot interleave a read and a write.
 *
 * Other tabs: every commit is announced on a BroadcastChannel named after the
 * database, and `onChange` listeners fire for commits of this tab and of the
 * others; a tab that does not run the sync loop (see subscribeInOneTab) shows
 * changes this way.
 */
import type { ApplyOptions, DeletedRecord, HaveLists, LocalRecord, LocalStore } from '../local-store.js';
import { forgetRevs, haveJsonOf, haveListsOf, haveMap, planApply, planRemove, type Plan } from './plan.js';

const RECORDS = 'records';
const META = 'meta';
const CHECKPOINT = 'checkpoint';
const VERSION = 1;

export interface IndexedDBStoreOptions {
  /** The IndexedDB factory; default `globalThis.indexedDB` (inject fake-indexeddb in Node tests). */
  indexedDB?: IDBFactory | undefined;
  /** Announce commits to other tabs and hear theirs (default true where BroadcastChannel exists). */
  broadcast?: boolean | undefined;
}

/** Records a commit changed, as seen by a reader; `remote` when another tab committed them. */
export type StoreChangeListener = (records: readonly LocalRecord[], source: { remote: boolean }) => void;

export class IndexedDBStore implements LocalStore {
  readonly #db: IDBDatabase;
  readonly #channel: BroadcastChannel | undefined;
  readonly #listeners = new Set<StoreChangeListener>();
  #closed = false;

  private constructor(
    readonly name: string,
    db: IDBDatabase,
    broadcast: boolean,
  ) {
    this.#db = db;
    // Another tab deleting or upgrading the database must not wait on us forever.
    db.onversionchange = () => void this.close();
    if (broadcast && typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(`keysync-idb:${name}`);
      this.#channel.onmessage = (e: MessageEvent<LocalRecord[]>) => this.#notify(e.data, true);
    }
  }

  /**
   * Opens (creating if needed) the IndexedDB database `name` as a replica.
   * @example const store = await IndexedDBStore.open('keysync:my-store');
   */
  static async open(name: string, options: IndexedDBStoreOptions = {}): Promise<IndexedDBStore> {
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!factory) throw new Error('IndexedDBStore: no indexedDB in this environment (pass options.indexedDB)');
    const req = factory.open(name, VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(RECORDS)) db.createObjectStore(RECORDS, { keyPath: 'key' });
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
    };
    const db = await done(req);
    return new IndexedDBStore(name, db, options.broadcast ?? true);
  }

  /**
   * Calls `listener` after every commit that changed what a reader sees, in
   * this tab or (through BroadcastChannel) another one on the same database.
   * @returns a function that removes the listener
   */
  onChange(listener: StoreChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async get(key: string): Promise<LocalRecord | undefined> {
    const tx = this.#tx('readonly');
    return (await done(tx.objectStore(RECORDS).get(key))) as LocalRecord | undefined;
  }

  async have(prefix = ''): Promise<Record<string, string>> {
    return haveMap(await this.#recordsUnder(prefix), prefix);
  }

  async haveJson(prefix = ''): Promise<string> {
    return haveJsonOf(await this.#recordsUnder(prefix), prefix);
  }

  async haveLists(prefix = ''): Promise<HaveLists> {
    return haveListsOf(await this.#recordsUnder(prefix), prefix);
  }

  /** The records under `prefix`, in key order. */
  async #recordsUnder(prefix: string): Promise<LocalRecord[]> {
    const tx = this.#tx('readonly');
    const records: LocalRecord[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = tx.objectStore(RECORDS).openCursor();
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const cursor = req.result;
        if (!cursor) return resolve();
        // Keys sort as strings, so the keys under the prefix are one contiguous run from `prefix` on.
        if ((cursor.key as string) < prefix) return cursor.continue(prefix);
        if (!(cursor.key as string).startsWith(prefix)) return resolve();
        records.push(cursor.value as LocalRecord);
        cursor.continue();
      };
    });
    return records;
  }

  async getCheckpoint(): Promise<number | undefined> {
    const tx = this.#tx('readonly');
    return (await done(tx.objectStore(META).get(CHECKPOINT))) as number | undefined;
  }

  async applyBatch(records: readonly LocalRecord[], options: ApplyOptions = {}): Promise<LocalRecord[]> {
    return this.#commit(
      records.map((r) => r.key),
      (lookup) => planApply(lookup, records),
      options.checkpoint,
    );
  }

  async remove(keys: readonly string[], atRev: number): Promise<DeletedRecord[]> {
    return this.#commit(keys, (lookup) => planRemove(lookup, keys, atRev), undefined);
  }

  async forgetRevisions(): Promise<void> {
    const tx = this.#tx('readwrite');
    const records = tx.objectStore(RECORDS);
    const all = (await done(records.getAll())) as LocalRecord[];
    // Still inside the transaction: getAll's success callback resumed us in a microtask.
    records.clear();
    for (const r of forgetRevs(all)) records.put(r);
    tx.objectStore(META).delete(CHECKPOINT);
    await committed(tx);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel?.close();
    this.#listeners.clear();
    this.#db.close();
  }

  /**
   * Reads the current records of `keys`, plans, writes the plan (and the
   * checkpoint) in the same transaction, and resolves with the plan's
   * changes once the transaction is committed.
   */
  async #commit<C extends LocalRecord>(
    keys: readonly string[],
    plan: (lookup: (key: string) => LocalRecord | undefined) => Plan<C>,
    checkpoint: number | undefined,
  ): Promise<C[]> {
    const tx = this.#tx('readwrite');
    const records = tx.objectStore(RECORDS);
    const unique = [...new Set(keys)];
    const current = new Map<string, LocalRecord | undefined>();
    let result: Plan<C> | undefined;
    const write = () => {
      result = plan((key) => current.get(key));
      for (const r of result.writes) records.put(r);
      if (checkpoint !== undefined) tx.objectStore(META).put(checkpoint, CHECKPOINT);
    };
    // Callbacks, not awaits, between the reads and the writes: the writes must be
    // issued while the transaction is still active, in the last read's callback.
    let pending = unique.length;
    if (pending === 0) write();
    for (const key of unique) {
      const req = records.get(key);
      req.onsuccess = () => {
        current.set(key, req.result as LocalRecord | undefined);
        if (--pending === 0) write();
      };
    }
    await committed(tx);
    const changes = result!.changes;
    if (changes.length > 0) {
      this.#notify(changes, false);
      this.#channel?.postMessage(changes);
    }
    return changes;
  }

  #tx(mode: IDBTransactionMode): IDBTransaction {
    if (this.#closed) throw new Error('IndexedDBStore is closed');
    return this.#db.transaction([RECORDS, META], mode, { durability: 'strict' });
  }

  #notify(records: readonly LocalRecord[], remote: boolean): void {
    for (const listener of this.#listeners) {
      try {
        listener(records, { remote });
      } catch {
        // A listener's failure is the page's, not the store's; the others still run.
      }
    }
  }
}

/** The result of a request, once it succeeds. */
function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Resolves when the transaction commits; rejects when it aborts or fails. */
function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}
