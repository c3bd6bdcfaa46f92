/**
 * Planner statistics for stores that grow. Every read of a store's entries
 * names its store id, and the planner picks a plan from how many rows it
 * expects that id to have. A store loaded after `entries` was last analyzed
 * is expected to have about none (in a table of a few stores, every id the
 * statistics know is in its most-common list, and an id they do not know
 * gets what is left: nothing). A batch's read, which looks its 2,000 keys up
 * by the primary key, then becomes a walk of every entry of the store, each
 * one compared with each key: measured on a 100,000-key store loaded after
 * the table's last ANALYZE, 8 s per batch instead of 4 ms.
 *
 * PostgreSQL's autovacuum analyzes a table once a tenth of it has changed,
 * so a new store of 1% of a large table can wait indefinitely (and
 * autovacuum may be off); the embedded database has none (embedded-vacuum.ts
 * does its work once a minute). So this process analyzes `entries` itself
 * when a store it writes has grown to twice its size at the last ANALYZE
 * (plus MIN_GROWTH rows): a store that grows to n rows costs about log2(n)
 * ANALYZEs of a sample of at most 30,000 rows. Writes start one at most every
 * `minIntervalMs`; a handshake of a store that has grown starts one at once
 * and waits for it, so a sync right after a load is planned from its rows.
 * Growth another instance wrote is caught by that instance's own runs.
 */

/** Rows a store grows by, past twice its size at the last ANALYZE, before it is analyzed again. */
export const MIN_GROWTH = 10_000;

export interface StoreStatisticsOptions {
  /** ANALYZE of the entries table */
  analyze: () => Promise<void>;
  /** least time between two ANALYZEs started by writes */
  minIntervalMs?: number;
  onError?: (err: unknown) => void;
}

interface Growth {
  /** head rev when the last ANALYZE started (or when this process first saw the store) */
  analyzedAt: number;
  /** the latest head rev seen */
  headRev: number;
}

export class StoreStatistics {
  readonly #stores = new Map<string, Growth>();
  readonly #analyze: () => Promise<void>;
  readonly #minIntervalMs: number;
  readonly #onError: (err: unknown) => void;
  #running: Promise<void> | undefined;
  #lastStarted = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: StoreStatisticsOptions) {
    this.#analyze = opts.analyze;
    this.#minIntervalMs = opts.minIntervalMs ?? 5000;
    this.#onError = opts.onError ?? (() => undefined);
  }

  /** A write of `storeId` committed at `headRev`. */
  committed(storeId: string, headRev: number): void {
    const growth = this.#stores.get(storeId);
    if (!growth) {
      this.#stores.set(storeId, { analyzedAt: headRev, headRev });
      return;
    }
    growth.headRev = Math.max(growth.headRev, headRev);
    if (!isDue(growth) || this.#running || this.#timer) return;
    const wait = this.#lastStarted + this.#minIntervalMs - performance.now();
    if (wait <= 0) void this.#run();
    else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if ([...this.#stores.values()].some(isDue)) void this.#run();
      }, wait);
      this.#timer.unref();
    }
  }

  /** Before a handshake of `storeId`: when it has grown, analyzes now (or waits for the run in progress). */
  async beforeSync(storeId: string): Promise<void> {
    const growth = this.#stores.get(storeId);
    if (!growth || !isDue(growth)) return;
    // A run in progress saw the store as it was when it started; it may have grown since.
    if (this.#running) await this.#running;
    if (isDue(growth)) await (this.#running ?? this.#run());
  }

  /** Whether a store's growth waits for an ANALYZE (tests). */
  due(storeId: string): boolean {
    const growth = this.#stores.get(storeId);
    return growth !== undefined && isDue(growth);
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #run(): Promise<void> {
    // What the ANALYZE will see: every store at its latest head rev.
    for (const growth of this.#stores.values()) growth.analyzedAt = growth.headRev;
    this.#lastStarted = performance.now();
    const run = this.#analyze()
      .catch((err: unknown) => this.#onError(err))
      .finally(() => {
        this.#running = undefined;
      });
    this.#running = run;
    return run;
  }
}

const isDue = (g: Growth) => g.headRev >= 2 * g.analyzedAt + MIN_GROWTH;
