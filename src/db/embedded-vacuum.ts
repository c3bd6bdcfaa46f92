/**
 * Autovacuum's work for the embedded database. PGlite runs PostgreSQL in
 * single-user mode, where no autovacuum runs. Without it:
 * - statistics are never gathered, so every plan rests on default guesses;
 * - dead rows (every overwrite, every session and ack update) are reclaimed
 *   only where page pruning reaches them, and indexes keep growing;
 * - rows are never frozen: each write, batch delivery and ack takes a
 *   transaction id, and once a row's is about two billion transactions old
 *   it would count as written in the future and drop out of sight. Single-
 *   user mode does not stop short of that as a server does; it only warns.
 *
 * Each housekeeping pass applies autovacuum's own rules, with PostgreSQL's
 * default thresholds, to keysync's tables one at a time. The statistics it
 * reads start from zero when the process starts; the transaction age and a
 * table never analyzed are read from the catalog, so a restart skips no
 * freeze and no first analyze.
 *
 * A VACUUM runs on the server's own thread (PGlite), as any statement does,
 * and holds requests up while it runs. Autovacuum's insert rule applies too:
 * a table that has grown by a fifth since its last VACUUM is vacuumed, which
 * marks the loaded pages all-visible, so that the comparisons of reconnecting
 * replicas (digest folds, `have` steps) read the primary key alone instead of
 * visiting each row in key order: 100,000 keys of 1 KiB in random order
 * folded in 133-141 ms instead of 573-645. The VACUUM (ANALYZE) that costs,
 * once per fifth of growth, took 253 ms for that store right after a restart
 * (20,000 keys: 78 ms).
 *
 * Those counters start from zero when the process starts, so a load the last
 * process made and never vacuumed (a restart within a minute of it, or a
 * store filled by a short-lived process) would wait for another fifth of
 * growth, and every reconnect meanwhile visits the rows. A process's first
 * pass therefore catches up from what the catalog keeps across restarts: the
 * table's pages now, and how many of them its last VACUUM or ANALYZE found
 * all-visible (pg_class.relallvisible). More than a fifth of them never
 * marked (plus CATCH_UP_PAGES) gets the VACUUM a live process would have run.
 * Measured by the bench after a 100,000-key load and a restart: the digest
 * handshake of an up-to-date replica took 727-745 ms before that VACUUM and
 * 306-326 ms after it.
 */
import type { EmbeddedDatabase } from './client.js';

/** The tables keysync writes (schema.ts). */
const TABLES = ['entries', 'sync_sessions', 'sync_chunks', 'stores', 'tokens'];

/** PostgreSQL's autovacuum defaults (autovacuum_vacuum_threshold and _scale_factor, and their insert and analyze twins). */
const RULES = { vacuum: { base: 50, scale: 0.2 }, insert: { base: 1000, scale: 0.2 }, analyze: { base: 50, scale: 0.1 } };
/** The insert rule in pages, for a first pass's catch-up: 1 MB (8 KiB pages), plus a fifth of the table. */
export const CATCH_UP_PAGES = { base: 128, scale: 0.2 };
/**
 * Transactions after which a table is vacuumed whatever else, which then
 * freezes its rows (PostgreSQL's vacuum_freeze_table_age; autovacuum's own
 * limit is 200 million, a tenth of the way to wraparound).
 */
export const FREEZE_AGE = 150_000_000;

export interface TableActivity {
  table: string;
  live: number;
  dead: number;
  /** rows inserted since the last VACUUM */
  insertedSinceVacuum: number;
  modifiedSinceAnalyze: number;
  /** age of the table's oldest unfrozen transaction id */
  xidAge: number;
  /** true when the table has never been analyzed (no row estimate in the catalog) */
  neverAnalyzed: boolean;
  /** the table's pages now */
  pages: number;
  /** its pages all-visible at its last VACUUM or ANALYZE (pg_class.relallvisible) */
  allVisiblePages: number;
}

export interface MaintenanceOptions {
  /** the process's first pass: also vacuum a table whose pages were mostly never marked all-visible (see above) */
  catchUp?: boolean;
}

/** What autovacuum would do to a table now: VACUUM (with ANALYZE when due too), ANALYZE alone, or nothing. */
export function maintenanceDue(t: TableActivity, { catchUp = false }: MaintenanceOptions = {}): 'vacuum' | 'analyze' | undefined {
  const over = (count: number, rule: { base: number; scale: number }) => count > rule.base + rule.scale * t.live;
  if (t.xidAge > FREEZE_AGE || over(t.dead, RULES.vacuum) || over(t.insertedSinceVacuum, RULES.insert)) return 'vacuum';
  if (catchUp && t.pages - t.allVisiblePages > CATCH_UP_PAGES.base + CATCH_UP_PAGES.scale * t.pages) return 'vacuum';
  if (t.neverAnalyzed || over(t.modifiedSinceAnalyze, RULES.analyze)) return 'analyze';
  return undefined;
}

/** Each table's activity, named as TableActivity's fields. */
const ACTIVITY = `select c.relname as table, coalesce(s.n_live_tup, 0)::float8 as live, coalesce(s.n_dead_tup, 0)::float8 as dead,
    coalesce(s.n_ins_since_vacuum, 0)::float8 as "insertedSinceVacuum", coalesce(s.n_mod_since_analyze, 0)::float8 as "modifiedSinceAnalyze",
    age(c.relfrozenxid)::float8 as "xidAge", c.reltuples < 0 as "neverAnalyzed",
    (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8 as pages, c.relallvisible::float8 as "allVisiblePages"
  from pg_class c left join pg_stat_user_tables s on s.relid = c.oid
  where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relname = any($1::text[])
  order by c.relname`;

/** One pass: the tables that were vacuumed or analyzed, with what was done. */
export async function maintainEmbedded(
  database: EmbeddedDatabase,
  options: MaintenanceOptions = {},
): Promise<Array<{ table: string; did: 'vacuum' | 'analyze' }>> {
  // This backend's counters reach the shared statistics at most once a second; now, for this read.
  await database.rows('select pg_stat_force_next_flush()');
  const done: Array<{ table: string; did: 'vacuum' | 'analyze' }> = [];
  let flushed = false;
  for (const r of await database.rows<TableActivity>(ACTIVITY, [TABLES])) {
    const due = maintenanceDue(r, options);
    if (!due) continue;
    if (due === 'vacuum' && !flushed) {
      await flushWal(database);
      flushed = true;
    }
    // Names from the fixed list above, quoted all the same.
    await database.rows(due === 'vacuum' ? `vacuum (analyze) "${r.table}"` : `analyze "${r.table}"`);
    done.push({ table: r.table, did: due });
  }
  return done;
}

/**
 * Flushes the write-ahead log before a VACUUM that is to mark pages
 * all-visible. It marks a page only when each of its rows carries the hint
 * that its writer committed, and PostgreSQL sets that hint only once the WAL
 * up to the commit is flushed. In a process just started, the rows the last
 * process wrote stayed unmarked until this one had flushed its own WAL
 * (measured after a restart: 0 of 741 pages marked; all 741 after a
 * CHECKPOINT, a second VACUUM, or a transaction like this one). A message in
 * the WAL, committed synchronously, flushes it without the page writes of a
 * CHECKPOINT.
 */
export async function flushWal(database: EmbeddedDatabase): Promise<void> {
  await database.rows(`select pg_logical_emit_message(true, 'keysync', 'flush')`);
}
