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
 * `minIntervalMs` (on PostgreSQL: on the embedded database an ANALYZE
 * runs on the server's own thread and held every request up during a load,
 * bulk writes going from 0.93x to 0.70x of the floor; its housekeeping does
 * autovacuum's work once a minute). A handshake of a store that has grown eightfold starts
 * one at once and waits for it, so a sync right after a load is planned
 * from its rows: less is harmless to the plans (the planner keeps to the
 * primary key for a batch's keys while it expects thousands of rows in the
 * store) and not worth an ANALYZE in a client's wait. A store this process
 * has not seen yet (written by another instance, or before a restart) is
 * measured once against the planner's own estimate of its rows (`inspect`);
 * the same rules then tell whether it is due.
 */
import { sql } from 'drizzle-orm';
import type { Database } from './client.js';

/** Rows a store grows by, past a multiple of its size at the last ANALYZE, before it is analyzed again. */
export const MIN_GROWTH = 10_000;
/** The multiple for writes (in the background) and for a handshake (which waits for it). */
export const GROWTH = { writes: 2, handshake: 8 };
/** Stores followed at most (here and by embedded-settle.ts). */
export const MAX_STORES = 100_000;

export interface StoreStatisticsOptions {
  /** ANALYZE of the entries table */
  analyze: () => Promise<void>;
  /** a store's head rev, and the rows the planner expects it to have; undefined for no such store */
  inspect: (storeId: string) => Promise<{ headRev: number; plannedRows: number } | undefined>;
  /** whether writes start ANALYZEs (default true) */
  onWrites?: boolean;
  /** least time between two ANALYZEs started by writes */
  minIntervalMs?: number;
  onError?: (err: unknown) => void;
}

interface Growth {
  /** head rev when the last ANALYZE started (at first sight: the rows the planner expected) */
  analyzedAt: number;
  /** the latest head rev seen */
  headRev: number;
}

export class StoreStatistics {
  readonly #stores = new Map<string, Growth>();
  readonly #analyze: () => Promise<void>;
  readonly #inspect: StoreStatisticsOptions['inspect'];
  /** first sights being measured */
  readonly #inspecting = new Map<string, Promise<void>>();
  readonly #onWrites: boolean;
  readonly #minIntervalMs: number;
  readonly #onError: (err: unknown) => void;
  #running: Promise<void> | undefined;
  #lastStarted = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: StoreStatisticsOptions) {
    this.#analyze = opts.analyze;
    this.#inspect = opts.inspect;
    this.#onWrites = opts.onWrites ?? true;
    this.#minIntervalMs = opts.minIntervalMs ?? 5000;
    this.#onError = opts.onError ?? (() => undefined);
  }

  /** A write of `storeId` committed at `headRev`. */
  committed(storeId: string, headRev: number): void {
    const growth = this.#stores.get(storeId);
    if (!growth) {
      if (this.#inspecting.has(storeId)) return;
      void this.#firstSight(storeId, headRev).then(() => {
        if (this.#stores.has(storeId)) this.committed(storeId, headRev);
      });
      return;
    }
    growth.headRev = Math.max(growth.headRev, headRev);
    if (this.#onWrites && isDue(growth, GROWTH.writes)) this.#schedule();
  }

  /** Starts a run now, or once `minIntervalMs` has passed since the last one started. */
  #schedule(): void {
    if (this.#running || this.#timer || this.#closed) return;
    const wait = this.#lastStarted + this.#minIntervalMs - performance.now();
    if (wait <= 0) void this.#run();
    else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if ([...this.#stores.values()].some((g) => isDue(g, GROWTH.writes))) void this.#run();
      }, wait);
      this.#timer.unref();
    }
  }

  /** Before a handshake of `storeId`: when it has grown, analyzes now (or waits for the run in progress). */
  async beforeSync(storeId: string): Promise<void> {
    if (!this.#stores.has(storeId)) await this.#firstSight(storeId);
    const growth = this.#stores.get(storeId);
    if (!growth || !isDue(growth, GROWTH.handshake)) return;
    // A run in progress saw the store as it was when it started; it may have grown since.
    if (this.#running) await this.#running;
    if (isDue(growth, GROWTH.handshake) && !this.#closed) await (this.#running ?? this.#run());
  }

  /** Whether a store's growth waits for an ANALYZE (tests). */
  due(storeId: string): boolean {
    const growth = this.#stores.get(storeId);
    return growth !== undefined && isDue(growth, GROWTH.writes);
  }

  /**
   * Measures a store not seen before: the planner's rows stand for its size
   * at the last ANALYZE. Unmeasured (the read failed), it counts from
   * `headRev`, the head rev known here if any: only growth from there on.
   */
  #firstSight(storeId: string, headRev = 0): Promise<void> {
    let sight = this.#inspecting.get(storeId);
    if (!sight) {
      const add = (growth: Growth) => {
        if (this.#stores.has(storeId)) return;
        // A few numbers per store; past this many, the stores are measured again as they come.
        if (this.#stores.size >= MAX_STORES) this.#stores.clear();
        this.#stores.set(storeId, growth);
      };
      sight = this.#inspect(storeId)
        // No such store (a handshake's 404 to come): nothing to keep.
        .then((found) => found && add({ analyzedAt: Math.min(found.headRev, found.plannedRows), headRev: found.headRev }))
        .catch((err: unknown) => {
          this.#onError(err);
          add({ analyzedAt: headRev, headRev });
        })
        .finally(() => this.#inspecting.delete(storeId));
      this.#inspecting.set(storeId, sight);
    }
    return sight;
  }

  /** Starts no more runs, and waits for the one in progress and for first sights (before the database closes). */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closed = true;
    await Promise.all([this.#running, ...this.#inspecting.values()]);
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

/** Whether a store at `headRev` has grown past `multiple` times its size at `since`, plus MIN_GROWTH rows. */
export const hasGrown = (headRev: number, since: number, multiple: number) => headRev >= multiple * since + MIN_GROWTH;

const isDue = (g: Growth, multiple: number) => hasGrown(g.headRev, g.analyzedAt, multiple);

/**
 * ANALYZE of the entries table's columns that plans select on
 * (StoreStatistics): the value columns' statistics, which no plan reads,
 * were about a third of its time (400,000 entries of 1 KiB: 305-372 ms
 * whole, 236 ms these). On PostgreSQL it gives up after a while rather than
 * wait behind a VACUUM of the table (which holds the lock it needs and
 * gathers statistics too).
 */
export async function analyzeEntries(database: Database): Promise<void> {
  await database.db.transaction(async (tx) => {
    if (database.kind === 'postgres') await tx.execute(sql`set local lock_timeout = '2s'`);
    await tx.execute(sql`analyze entries (store_id, key, rev, deleted)`);
  });
}

/** A store's head rev and the rows the planner expects it to have (StoreStatistics' first sight of it). */
export async function inspectStore(database: Database, storeId: string): Promise<{ headRev: number; plannedRows: number } | undefined> {
  const headRev = await readHeadRev(database, storeId);
  return headRev === undefined ? undefined : { headRev, plannedRows: await plannedRows(database, storeId) };
}

/** A store's head rev; undefined for no such store. */
export async function readHeadRev(database: Database, storeId: string): Promise<number | undefined> {
  const [store] = await database.rows<{ head_rev: string | number }>('select head_rev from stores where id = $1::uuid', [storeId]);
  return store && Number(store.head_rev);
}

/** The rows the planner expects the store's entries to have. */
export async function plannedRows(database: Database, storeId: string): Promise<number> {
  // Both drivers hand the json column over parsed.
  const [plan] = await database.rows<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }>(
    'explain (format json) select 1 from entries where store_id = $1::uuid',
    [storeId],
  );
  return plan?.['QUERY PLAN'][0]?.Plan['Plan Rows'] ?? 0;
}
