/**
 * The `have` comparison done by the database: the client's keys and ts go
 * in as two JSON arrays, one statement joins them against the store's live
 * entries and only what differs comes back, so an up-to-date replica of a
 * million keys costs the server no row parsing at all.
 *
 * For stores whose policy is a key filter at most (no value filter, no
 * walk): the filter is plain prefixes, which SQL can apply itself. Runs in
 * the handshake's repeatable-read transaction; the rows come through a
 * cursor a page at a time, so a handshake with a short `have` map over a
 * large store (nearly everything stale) is not read in one piece.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { rowsOf } from '../db/prepared.js';
import type { StorePolicy } from '../options/index.js';
import { keyHasPrefix } from '../store/reads.js';
import { entries } from '../db/schema.js';
import { Turns } from './event-loop.js';

/** Rows per FETCH from the cursor. */
const FETCH_ROWS = 5000;

/** True when the comparison can run in SQL: the policy needs no values. */
export function diffableInSql(policy: StorePolicy): boolean {
  return !policy.walk && !policy.includesValue;
}

/**
 * The have map as the statement's two parameters, JSON arrays of the keys
 * and of their micros (null for a ts finer than a microsecond, which names
 * no server ts): one native JSON.stringify each, where a driver's text[]
 * parameter escapes element by element.
 */
/** Have entries per JSON.stringify call. */
const HAVE_SLICE = 10_000;

export interface HaveJson {
  /** the keys in map order (a removed row names its key by its place here) */
  list: string[];
  keys: string;
  micros: string;
}

export async function haveJson(have: Map<string, number>): Promise<HaveJson> {
  const list: string[] = new Array(have.size);
  // Stringified a slice at a time with turns between: one JSON.stringify of half a million
  // keys would hold every other request for a good part of a second.
  const keyParts: string[] = [];
  const microParts: string[] = [];
  let sent: Array<string | null> = [];
  let micros: Array<number | null> = [];
  const flush = () => {
    if (sent.length === 0) return;
    keyParts.push(JSON.stringify(sent).slice(1, -1));
    microParts.push(JSON.stringify(micros).slice(1, -1));
    sent = [];
    micros = [];
  };
  const turns = new Turns();
  let i = 0;
  for (const [key, us] of have) {
    list[i++] = key;
    // A key that no text column can hold (NUL, a lone surrogate) names no entry: sent as null, it is removed.
    sent.push(key.includes('\0') || !key.isWellFormed() ? null : key);
    micros.push(Number.isInteger(us) ? us : null);
    if (sent.length >= HAVE_SLICE) flush();
    if (turns.due()) await turns.yield();
  }
  flush();
  return { list, keys: `[${keyParts.join(',')}]`, micros: `[${microParts.join(',')}]` };
}

/** `includesKey` of the policy, in SQL over `entries.key`. */
function keyFilter(policy: StorePolicy): SQL {
  const startsWithAny = (prefixes: readonly string[]) => sql`${entries.key} ^@ any(${sql.param([...prefixes])}::text[])`;
  const parts: SQL[] = [];
  if (policy.prefixes.length > 0) parts.push(startsWithAny(policy.prefixes));
  if (policy.excludePrefixes.length > 0) parts.push(sql`not ${startsWithAny(policy.excludePrefixes)}`);
  return parts.length === 0 ? sql`true` : sql.join(parts, sql` and `);
}

/**
 * Walks the difference: `stale` gets each live, synced key the client lacks
 * or holds at another ts, in rev order, with its value's wire size; then
 * `removed` gets each `have` key the store does not serve, in map order.
 */
export async function diffHaveInSql(
  tx: Db,
  storeId: string,
  have: HaveJson,
  prefix: string | undefined,
  policy: StorePolicy,
  stale: (key: string, size: number) => Promise<void>,
  removed: (key: string) => void,
): Promise<void> {
  const prefixed = keyHasPrefix(prefix);
  // Stale rows sort first (by rev), removed ones after (by their place in the map).
  await tx.execute(sql`declare have_diff no scroll cursor for
    select e.key as stale, e.size, h.ord as removed
    from (
      select ${entries.key} as key, ${entries.rev} as rev, ${entries.tsUs} as ts_us,
        coalesce(octet_length(${entries.json}), (octet_length(${entries.bytes}) + 2) / 3 * 4, 0)::int as size
      from ${entries}
      where ${entries.storeId} = ${storeId} and not ${entries.deleted} and ${keyFilter(policy)}${prefixed ? sql` and ${prefixed}` : sql``}
    ) e
    full join rows from (json_array_elements_text(${have.keys}::json), json_array_elements_text(${have.micros}::json)) with ordinality as h(k, t, ord)
      on h.k = e.key
    where e.key is null or h.t::bigint is distinct from e.ts_us
    order by e.key is null, e.rev, h.ord`);
  for (;;) {
    const rows = rowsOf<{ stale: string | null; size: number | null; removed: string | number | null }>(
      await tx.execute(sql.raw(`fetch ${FETCH_ROWS} from have_diff`)),
    );
    for (const row of rows) {
      if (row.stale !== null) await stale(row.stale, row.size!);
      else removed(have.list[Number(row.removed) - 1]!);
    }
    if (rows.length < FETCH_ROWS) break;
  }
  // (A failure above aborts the transaction, which drops the cursor with it.)
  await tx.execute(sql.raw('close have_diff'));
}
