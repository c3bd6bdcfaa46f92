/**
 * The handshake of a client that holds nothing under its prefix (an empty
 * `have` map: a replica's first sync), or that asks for what changed after
 * a rev (`since`): every key the store serves there (written after that
 * rev) is stale, there is nothing to compare, and the database cuts and
 * writes the session's chunks itself. Passing every key through JavaScript
 * instead (the ChunkWriter fed by a scan) cost about 250 ms of server CPU
 * per 100,000 keys, while the client waited for its first batch.
 *
 * For policies of one rank, whose delivery order is rev order. Two passes
 * over the served entries in rev order, inside the handshake's
 * repeatable-read snapshot (both see the same rows):
 * 1. their value sizes, a window of revs per statement, as text: the
 *    batches are cut here by the ChunkWriter's own rule (BatchCuts), and
 *    only the rev each batch begins at is kept;
 * 2. the chunks, written by INSERT ... SELECT, each batch's keys read from
 *    its own range of those revs, a bounded number of keys per statement.
 * When no batch of `maxKeys` entries can reach `maxBytes` at the store's
 * largest value (BatchCuts.countsAlone, stores.max_entry_bytes), pass 1
 * reads revs alone: both passes then read the rev index, which carries key
 * and deleted, and no row (about 2 ms each per 10,000 entries of 1 KiB
 * instead of 10 and 9).
 * No statement runs long (PGlite runs them on the server's own thread) and
 * the event loop gets a turn before each. On PostgreSQL, for a store of more
 * than two windows, pass 1 runs on a second connection of the same snapshot
 * while pass 2 writes the batches already cut (about 7 and 7-11 ms per 10,000
 * entries of 1 KiB, which otherwise add up).
 */
import type { PreparedQuery } from '../db/prepared.js';
import { ENTRY_SIZE_SQL } from '../store/entry-sql.js';
import { BatchCuts } from './chunk-writer.js';
import { nextTurn } from './event-loop.js';
import { keyFilterSql, type KeyPrefixes } from './have-diff.sql.js';

/** Revs per statement of the first pass. */
const REVS_PER_READ = 10_000;
/** Keys per statement of the second pass (whole batches; a larger batch goes alone). */
const KEYS_PER_INSERT = 10_000;
/** Revs (after `afterRev`) from which the passes overlap on two connections (writeAllServed's `reader`): with fewer, pass 1 is one statement and nothing overlaps. */
export const OVERLAP_FROM_REVS = 2 * REVS_PER_READ;

/**
 * The entries a store serves under a prefix: $1 store id, $2 the prefix
 * ('' for every key), $3 and $4 the key filter's prefixes and excluded
 * prefixes (keyFilterSql).
 */
const SERVED = `store_id = $1::uuid and not deleted and key ^@ $2::text and ${keyFilterSql('$3', '$4')}`;

/** SERVED's parameters name no prefix and no key filter: every live entry is served. */
const WHOLE_STORE = `$2::text = '' and cardinality($3::text[]) = 0 and cardinality($4::text[]) = 0`;

/** A `since` handshake's removed keys: the tombstones served, revs $5 < rev <= $6 (a set: unordered). */
const REMOVED_AFTER = `select coalesce(array_agg(key), '{}') as keys from entries
  where store_id = $1::uuid and deleted and key ^@ $2::text and ${keyFilterSql('$3', '$4')} and rev > $5::bigint and rev <= $6::bigint`;

/** Pass 1's rows: the entries served with revs $5 < rev <= $6, in rev order. */
const PASS_1_ROWS = `from entries e where ${SERVED} and rev > $5::bigint and rev <= $6::bigint order by rev offset 0`;

/**
 * Pass 1, revs $5 < rev <= $6: revs and value sizes (as scanMeta measures
 * them), comma-separated, in rev order. The rows come in rev order from the
 * index: aggregated `order by rev` instead, each aggregate sorted them again
 * (7 against 14 ms per window of 10,000 entries of 1 KiB).
 */
const SIZES = `select coalesce(string_agg(s.rev::text, ','), '') as revs, coalesce(string_agg(s.size::text, ','), '') as sizes
  from (select rev, ${ENTRY_SIZE_SQL} as size ${PASS_1_ROWS}) s`;

/** Pass 1 when counting is enough: the revs alone (sizes empty), from the rev index. Exported for the test of its plan. */
export const REVS = `select coalesce(string_agg(s.rev::text, ','), '') as revs, '' as sizes from (select rev ${PASS_1_ROWS}) s`;

/**
 * Pass 2: session $5, the batches numbered from cursor $6 that begin at the
 * revs $7 (ascending) and end before rev $8. Without a prefix and a key
 * filter, a batch's keys are every entry served in its rev range, which the
 * chunk records: the batch is then read by that range (batch.sql.ts).
 *
 * Each batch is read by its own range of the rev index. Grouped over the
 * whole window instead (by width_bucket), the planner read a store of
 * 100,000 keys through its primary key, every key for each window, and
 * sorted the window: 26-36 ms against 8.5-11 ms per 10,000 keys. Exported
 * for the test of its plan (test/sync/all-served-plan.test.ts).
 */
export const INSERT_CHUNKS = `insert into sync_chunks (store_id, session_id, cursor, keys, from_rev, to_rev)
  select $1::uuid, $5::uuid, $6::int + b.i::int - 1, k.keys,
    case when ${WHOLE_STORE} then k.from_rev end, case when ${WHOLE_STORE} then k.to_rev end
  from unnest($7::bigint[]) with ordinality b(from_rev, i),
    lateral (select array_agg(s.key) as keys, min(s.rev) as from_rev, max(s.rev) as to_rev
      from (select key, rev from entries
        where ${SERVED} and rev >= b.from_rev and rev < coalesce(($7::bigint[])[b.i + 1], $8::bigint) order by rev offset 0) s) k
  where k.keys is not null`;

export interface AllServed {
  storeId: string;
  sessionId: string;
  /** the handshake's prefix, if any */
  prefix: string | undefined;
  filter: KeyPrefixes;
  /** keys written after this rev (a `since` handshake's), 0 for all */
  afterRev: number;
  headRev: number;
  maxKeys: number;
  maxBytes: number;
  /** the store's largest value (stores.max_entry_bytes) */
  maxEntryBytes: number;
}

/**
 * Writes the session's chunks: every entry served, in rev order, cut as the
 * ChunkWriter cuts. With a `reader` (a second connection on the same
 * snapshot: withSnapshotReader) the first pass runs there while this
 * connection inserts the batches it has already cut, so the two passes
 * overlap on two database cores instead of following each other.
 */
export async function writeAllServed(query: PreparedQuery, s: AllServed, reader?: PreparedQuery): Promise<{ keys: number; batches: number }> {
  const served = servedParams(s);
  const cut = cutBatches(reader ?? query, served, s);
  // On one connection the passes cannot overlap: pass 1 first, as a whole.
  if (!reader) await cut.done;
  let keys: number;
  try {
    keys = await insertChunks(query, served, s, cut);
  } finally {
    // Pass 1 must be done with the reader before its transaction ends.
    await cut.done.catch(() => undefined);
  }
  await cut.done;
  return { keys, batches: cut.begins.length };
}

/**
 * The tombstones served after `s.afterRev`: what a `since` handshake answers
 * as removed. A window of revs per statement, as pass 1 reads, so that no
 * statement runs long (a `since` from long ago spans the whole store).
 */
export async function removedAfter(query: PreparedQuery, s: AllServed): Promise<string[]> {
  const removed: string[] = [];
  for (let afterRev = s.afterRev; afterRev < s.headRev; afterRev += REVS_PER_READ) {
    await nextTurn();
    const [row] = await query<{ keys: string[] }>(REMOVED_AFTER, [...servedParams(s), afterRev, Math.min(s.headRev, afterRev + REVS_PER_READ)]);
    for (const key of row!.keys) removed.push(key);
  }
  return removed;
}

/** SERVED's parameters. */
const servedParams = (s: AllServed): unknown[] => [s.storeId, s.prefix ?? '', [...s.filter.prefixes], [...s.filter.excludePrefixes]];

/** Pass 1 as it goes: each batch's first rev and its keys, final once a later batch begins or the pass is done. */
interface Cut {
  begins: number[];
  counts: number[];
  finished: boolean;
  /** settles when every window is read */
  done: Promise<void>;
  /** resolves at the next window read, or at the end */
  progress(): Promise<void>;
}

/** Pass 1: the value sizes in rev order (or the revs alone when counting is enough), a window of revs per statement, cut by BatchCuts. */
function cutBatches(query: PreparedQuery, served: unknown[], s: AllServed): Cut {
  const cuts = new BatchCuts(s.maxKeys, s.maxBytes);
  const pass = BatchCuts.countsAlone(s.maxKeys, s.maxBytes, s.maxEntryBytes) ? REVS : SIZES;
  let progressed: (() => void) | undefined;
  const cut: Cut = {
    begins: [],
    counts: [],
    finished: false,
    done: Promise.resolve(),
    progress: () => Promise.race([cut.done, new Promise<void>((resolve) => (progressed = resolve))]),
  };
  cut.done = (async () => {
    try {
      for (let afterRev = s.afterRev; afterRev < s.headRev; afterRev += REVS_PER_READ) {
        await nextTurn();
        const [page] = await query<{ revs: string; sizes: string }>(pass, [...served, afterRev, Math.min(s.headRev, afterRev + REVS_PER_READ)]);
        if (!page?.revs) continue;
        const revs = page.revs.split(',');
        const sizes = pass === SIZES ? page.sizes.split(',') : undefined;
        for (let i = 0; i < revs.length; i++) {
          if (cuts.begins(sizes ? Number(sizes[i]) : 0)) {
            cut.begins.push(Number(revs[i]));
            cut.counts.push(0);
          }
          cut.counts[cut.counts.length - 1]!++;
        }
        progressed?.();
      }
    } finally {
      cut.finished = true;
      progressed?.();
    }
  })();
  // Awaited by writeAllServed; this keeps a failure from going unhandled while pass 2 waits or fails.
  cut.done.catch(() => undefined);
  return cut;
}

/** Pass 2: the batches cut so far, a statement's worth at a time (whole batches; a larger one alone), until pass 1 is done and all are in. */
async function insertChunks(query: PreparedQuery, served: unknown[], s: AllServed, cut: Cut): Promise<number> {
  const { begins, counts } = cut;
  let keys = 0;
  for (let first = 0; ; ) {
    // Batches before `complete` have their final keys.
    const complete = cut.finished ? begins.length : begins.length - 1;
    let last = first - 1;
    let inserted = 0;
    while (last + 1 < complete && (last < first || inserted + counts[last + 1]! <= KEYS_PER_INSERT)) inserted += counts[++last]!;
    // A group is ready when the next batch would not fit, or it is the last one.
    const ready = last + 1 < complete || (last >= first && cut.finished);
    if (!ready) {
      if (cut.finished) return keys;
      await cut.progress();
      continue;
    }
    const end = last + 1 < begins.length ? begins[last + 1]! : s.headRev + 1;
    await nextTurn();
    await query(INSERT_CHUNKS, [...served, s.sessionId, first, begins.slice(first, last + 1), end]);
    keys += inserted;
    first = last + 1;
  }
}
