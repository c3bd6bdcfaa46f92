/**
 * A LocalStore in memory: for tests, short-lived processes, and as the shape
 * other stores follow. Each method plans and commits without an `await` in
 * between, so every call is atomic with respect to the others.
 */
import type { ApplyOptions, DeletedRecord, HaveLists, LocalRecord, LocalStore } from '../local-store.js';
import { plainRecord } from '../records.js';
import { forgetRevs, haveJsonOf, haveListsOf, haveMap, planApply, planRemove } from './plan.js';

export class MemoryStore implements LocalStore {
  /** Values from the server are kept as their text until `get` (or a listener) reads them. */
  readonly lazyValues = true;
  #records = new Map<string, LocalRecord>();
  #checkpoint: number | undefined;
  #closed = false;

  async get(key: string): Promise<LocalRecord | undefined> {
    this.#open();
    const record = this.#records.get(key);
    return record && plainRecord(record);
  }

  async have(prefix?: string): Promise<Record<string, string>> {
    this.#open();
    return haveMap(this.#records.values(), prefix);
  }

  async haveJson(prefix?: string): Promise<string> {
    this.#open();
    return haveJsonOf(this.#records.values(), prefix);
  }

  async haveLists(prefix?: string): Promise<HaveLists> {
    this.#open();
    return haveListsOf(this.#records.values(), prefix);
  }

  async getCheckpoint(): Promise<number | undefined> {
    this.#open();
    return this.#checkpoint;
  }

  async applyBatch(records: readonly LocalRecord[], options: ApplyOptions = {}): Promise<LocalRecord[]> {
    this.#open();
    const plan = planApply((k) => this.#records.get(k), records);
    for (const r of plan.writes) this.#records.set(r.key, r);
    if (options.checkpoint !== undefined) this.#checkpoint = options.checkpoint;
    return plan.changes;
  }

  async remove(keys: readonly string[], atRev: number): Promise<DeletedRecord[]> {
    this.#open();
    const plan = planRemove((k) => this.#records.get(k), keys, atRev);
    for (const r of plan.writes) this.#records.set(r.key, r);
    return plan.changes;
  }

  async forgetRevisions(): Promise<void> {
    this.#open();
    this.#records = new Map(forgetRevs(this.#records.values()).map((r) => [r.key, r]));
    this.#checkpoint = undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new Error('MemoryStore is closed');
  }
}
