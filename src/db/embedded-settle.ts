/**
 * Embedded database only: a store that has grown is vacuumed before a
 * handshake compares what a replica holds with it (a `have` map, digests).
 *
 * Those comparisons read the primary key alone where the table's pages are
 * marked all-visible, and visit every row where they are not (migration
 * 0004, docs/architecture.md). The housekeeping marks them by autovacuum's
 * insert rule, which counts the whole table: a store of 100,000 keys loaded
 * into a table several times its size stays below it, and every reconnect
 * to it visits its rows. Measured by the bench (a quick run on PGlite, the
 * table holding the earlier workloads' stores): the digest handshake of an
 * up-to-date replica of 100,000 keys took 594-794 ms (best and median of
 * three) before its store was vacuumed, 303-353 ms after.
 *
 * So the first comparing handshake after a store has doubled (and grown by
 * MIN_GROWTH rows, counted from nothing when this process first sees it)
 * waits for a VACUUM of the table, as it waits for an ANALYZE
 * (store-statistics.ts). A VACUUM skips the pages already all-visible, so it
 * costs about the pages written since. Initial syncs and `since` handshakes
 * do not wait: they read the rows anyway.
 *
 * The VACUUM is of the whole table, so it settles every store at the head
 * rev it had when the VACUUM started, not only the store that asked. Counted
 * for the asking store alone, a store loaded before another store's VACUUM
 * waited for one more at its own first comparison. The bench's digest
 * reconnect of a million keys (1% rewritten, after a warm-up store's
 * reconnect had vacuumed the table): its digests request took 1.93 s with
 * that second VACUUM and 1.64 s without. Measured in-process on such a
 * store, the VACUUM took 0.74 s, and the fold 0.80-0.97 s on the unvacuumed
 * pages against 0.69-0.73 s after it.
 */
import type { EmbeddedDatabase } from './client.js';
import { flushWal } from './embedded-vacuum.js';
import { hasGrown, MAX_STORES, readHeadRev } from './store-statistics.js';

export class EmbeddedSettle {
  /** each store's head rev when the last VACUUM this process ran started */
  readonly #settledAt = new Map<string, number>();
  #running: Promise<void> | undefined;

  constructor(
    private readonly database: EmbeddedDatabase,
    /** a VACUUM that failed: the comparison runs all the same, visiting the rows */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** Before a handshake that compares with `storeId`: vacuums first if it has doubled since the last VACUUM. */
  async beforeCompare(storeId: string): Promise<void> {
    const headRev = await readHeadRev(this.database, storeId);
    if (headRev === undefined) return;
    // A VACUUM in progress may have started before the store's last writes.
    if (this.#running) await this.#running;
    if (!hasGrown(headRev, this.#settledAt.get(storeId) ?? 0, 2)) return;
    if (this.#settledAt.size >= MAX_STORES) this.#settledAt.clear();
    this.#settledAt.set(storeId, headRev);
    await (this.#running ??= this.#vacuum()
      .catch(this.onError)
      .finally(() => (this.#running = undefined)));
  }

  async #vacuum(): Promise<void> {
    // One PGlite connection: nothing older than these heads holds the VACUUM back from marking their rows.
    const heads = await this.database.rows<{ id: string; head_rev: string | number }>(`select id, head_rev from stores limit ${MAX_STORES}`);
    await flushWal(this.database);
    await this.database.rows('vacuum entries');
    if (this.#settledAt.size + heads.length > MAX_STORES) this.#settledAt.clear();
    for (const { id, head_rev } of heads) this.#settledAt.set(id, Math.max(this.#settledAt.get(id) ?? 0, Number(head_rev)));
  }
}
