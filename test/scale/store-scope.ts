/**
 * The rule that makes keysync shardable by store: every statement the server
 * sends touches exactly one store. A captured statement passes when each of
 * keysync's tables it names is pinned to a store by an equality on the store
 * id with a parameter (or, for an INSERT, given the store id as a value), and
 * all those parameters carry the same store id. Statements that cannot be
 * scoped are listed in EXCEPTIONS, each with its reason.
 */

export interface Captured {
  query: string;
  parameters: unknown[];
}

export interface Exception {
  /** matches the statement's text */
  match: RegExp;
  reason: string;
}

/** The statements allowed to span stores, and why. */
export const EXCEPTIONS: Exception[] = [
  {
    match:
      /^select "id", "config", "options", "options_version", "head_rev", "last_ts_us", "purged_rev", "max_entry_bytes", "created_us" from "stores"( where "stores"\."id" > \$1)? order by "stores"\."id" asc limit \$\d+$/,
    reason: 'GET /v1/stores lists the stores: the store table itself, read page by page on the coordinator (admin only)',
  },
  {
    match: /^select distinct "store_id" from "entries" where \("entries"\."deleted" = \$1 and "entries"\."ts_us" < \$2\)$/,
    reason: 'housekeeping finds the stores with tombstones past the retention (read only, one instance at a time); each purge then names its store',
  },
  {
    match: /^select "store_id", "id", "acked" >= "batches" - 1 from "sync_sessions" where "sync_sessions"\."last_active_us" < \$1 limit \$2$/,
    reason: 'housekeeping finds idle sync sessions (read only, one instance at a time); each removal then names its store',
  },
  {
    match: /^select pg_notify\(/,
    reason: 'a notice names no table: it runs on the coordinator, where every instance listens',
  },
  {
    match: /^select (pg_advisory_lock|pg_try_advisory_lock|pg_advisory_unlock)\(/,
    reason: 'cluster-wide locks of migrations and housekeeping (coordinator)',
  },
  {
    match: /pg_stat_activity/,
    reason: "the pool gauge reads this instance's connections from the coordinator's statistics (metrics scrape)",
  },
  {
    match:
      /__drizzle_migrations|^(create|alter|drop) |^CREATE |^ALTER |^DROP |^DELETE FROM "sync_chunks" WHERE "store_id" IS NULL|^UPDATE "sync_chunks" SET "store_id"|^UPDATE "stores" SET "max_entry_bytes"|^--/,
    reason: 'migrations: schema changes and the migration journal, applied once under the migrate lock',
  },
  { match: /^(begin|commit|rollback|savepoint|release savepoint|set transaction)\b/i, reason: 'transaction control' },
  { match: /^(listen|unlisten) "keysync_notices_v1"$/, reason: "each instance's LISTEN connection for the notices (coordinator)" },
  { match: /^select b\.oid, b\.typarray from pg_catalog\.pg_type/, reason: "postgres.js reads the server's array types once per pool (system catalog)" },
  { match: /^(select 1|SELECT 1)$/, reason: 'readiness probe' },
  {
    match: /^select "id" from "tokens" where "tokens"\."hash" = \$1 limit \$2$/,
    reason:
      'auth failure path only: a token not found in the store of the URL is looked up by its hash to answer 403 (a token of another store) rather than 401 (unknown)',
  },
];

const TABLES = ['stores', 'entries', 'sync_sessions', 'sync_chunks', 'tokens'] as const;

const param = String.raw`\$(\d+)(?:::uuid)?`;

/** Parameters that pin the stores table: `"stores"."id" = $n`, `stores where id = $n`, `stores set … where id = $n`, `stores s … s.id = $n`. */
function storePins(query: string): number[] {
  const found: number[] = [];
  const patterns = [
    new RegExp(String.raw`"stores"\."id" = ${param}`, 'g'),
    new RegExp(String.raw`\b"?stores"? where "?id"? = ${param}`, 'g'),
    new RegExp(String.raw`\bupdate stores set [^;]*? where id = ${param}`, 'g'),
  ];
  for (const alias of query.matchAll(/\bstores (?!where|set)(\w+)\b/g)) {
    patterns.push(new RegExp(String.raw`\b${alias[1]}\.id = ${param}`, 'g'));
  }
  for (const re of patterns) for (const m of query.matchAll(re)) found.push(Number(m[1]));
  return found;
}

/**
 * Parameters that pin a table with a store_id column: `store_id = $n` in
 * drizzle's quoting or hand-written SQL (optionally qualified, with a cast),
 * or `store_id = s.id` where `s` is the stores table pinned itself.
 */
function pins(query: string, table: (typeof TABLES)[number]): number[] {
  if (table === 'stores') return storePins(query);
  const found: number[] = [];
  for (const re of [new RegExp(String.raw`"${table}"\."store_id" = ${param}`, 'g'), new RegExp(String.raw`(?<![\w"])(?:\w+\.)?"?store_id"? = ${param}`, 'g')]) {
    for (const m of query.matchAll(re)) found.push(Number(m[1]));
  }
  if (/\bstore_id = \w+\.id\b/.test(query)) found.push(...storePins(query));
  return found;
}

/** `insert into "t" ("store_id", …) values ($1, …), ($9, …)`: the parameters at the store_id position. */
function insertedStores(query: string, table: string): number[] | undefined {
  const m = new RegExp(`\\binsert into "?${table}"? \\(([^)]*)\\) (values|select) (.*)$`, 'is').exec(query);
  if (!m) return undefined;
  const cols = m[1]!.split(',').map((c) => c.trim().replace(/"/g, ''));
  const at = cols.indexOf(table === 'stores' ? 'id' : 'store_id');
  if (at < 0) return [];
  if (m[2]!.toLowerCase() === 'select') {
    const first = /^\$(\d+)(?:::uuid)?/.exec(m[3]!.trim());
    return first && at === 0 ? [Number(first[1])] : [];
  }
  const params: number[] = [];
  for (const tuple of m[3]!.matchAll(/\(([^()]*)\)/g)) {
    const value = tuple[1]!.split(',')[at]?.trim() ?? '';
    const p = /^\$(\d+)/.exec(value);
    if (p) params.push(Number(p[1]));
  }
  return params;
}

function tablesOf(query: string): Array<(typeof TABLES)[number]> {
  return TABLES.filter((t) => new RegExp(`(from|join|into|update|delete from)\\s+"?${t}"?(\\s|$|\\))`, 'i').test(query));
}

export interface Verdict {
  query: string;
  /** why it failed; undefined when it passed */
  problem?: string;
  /** the exception it fell under */
  exception?: string;
}

/** Checks one captured statement. */
export function checkStatement({ query, parameters }: Captured): Verdict {
  const text = query.trim().replace(/\s+/g, ' ');
  const exception = EXCEPTIONS.find((e) => e.match.test(text));
  if (exception) return { query: text, exception: exception.reason };
  const tables = tablesOf(text);
  if (tables.length === 0) return { query: text, problem: 'names none of keysync’s tables and is not a listed exception' };
  const stores = new Set<unknown>();
  for (const table of tables) {
    const params = [...pins(text, table)];
    params.push(...(insertedStores(text, table) ?? []));
    if (params.length === 0) return { query: text, problem: `"${table}" is not pinned to one store_id` };
    for (const p of params) stores.add(String(parameters[p - 1]));
  }
  if (stores.size !== 1) return { query: text, problem: `touches ${stores.size} stores: ${[...stores].join(', ')}` };
  return { query: text };
}
