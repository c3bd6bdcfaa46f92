/**
 * One compiled policy per store: the options document (and, for library
 * users, plain functions) turned into the checks the handshake, the batches
 * and the live feed apply. A key is synced when
 *
 *   includesKey(key)
 *   and (no walk, or key is in the set walk() returned)
 *   and (no includesValue, or includesValue(key, value))
 *
 * Compile once per options change and reuse: compiling validates the
 * options and prepares the JSON paths.
 */
import { compileRefs } from './json-path.js';
import { SyncOptionsSchema, type SyncOptions, type SyncOrderRule } from './schema.js';
import { walkReachable, type ReadSome, type ReadValues, type WalkLimits } from './walk.js';

export type { ReadSome, ReadValues } from './walk.js';

/** Delivery rank of a key; higher ranks are delivered later. */
export type Rank = number;

export interface StorePolicy {
  /** Key-level filter (`filter` option); used by the handshake, the batches and the live feed. */
  includesKey(key: string): boolean;
  /**
   * Value-level filter, only from a library `filter` function. When present
   * the handshake reads values to decide; batches and the live feed, which
   * carry values, apply it to puts too. `value` is the JSON value, or
   * `undefined` for a byte value. Deletes are decided by `includesKey` alone.
   */
  includesValue?: (key: string, value: unknown) => boolean;
  /** Rank of a key: longest matching `order` prefix, else 0 (or the library `sortKey`). */
  rankOf(key: string): Rank;
  /**
   * Distinct ranks `rankOf` can return, ascending. Undefined when a library
   * `sortKey` decides ranks: they cannot be known ahead, and the server then
   * buckets by the ranks it observes.
   */
  readonly ranks?: readonly Rank[];
  /**
   * Present when a walk is configured: the set of keys it allows. Keys outside
   * it are not synced. The set may hold names of keys that a library walk
   * returned but that do not exist; treat it as an allow-list.
   */
  walk?: (read: ReadValues, readSome?: ReadSome) => Promise<Set<string>>;
  /**
   * `includesKey` as prefixes, for the handshake's comparison in the
   * database (sync/have-diff.sql.ts): a key is included when `prefixes` is
   * empty or it starts with one of them, and it starts with none of
   * `excludePrefixes`. A policy without it is compared in JavaScript.
   */
  readonly keyFilter?: { readonly prefixes: readonly string[]; readonly excludePrefixes: readonly string[] };
}

/**
 * Whether a policy decides by key prefixes alone (no walk, no value
 * filter), so the database can apply it: the handshake's comparisons and
 * the digests' folds run in SQL for such stores only.
 */
export const decidesByKeyPrefix = (policy: StorePolicy): policy is StorePolicy & { keyFilter: NonNullable<StorePolicy['keyFilter']> } =>
  policy.keyFilter !== undefined && !policy.walk && !policy.includesValue;

/** The library form of the options, as plain functions (konserve-sync's filter-fn, key-sort-fn, walk-fn). */
export interface PolicyFunctions {
  /** Value-level filter, applied on top of the `filter` option. */
  filter?(key: string, value: unknown): boolean;
  /** Rank of a key (a finite number, higher = later); replaces the `order` option. */
  sortKey?(key: string): number;
  /**
   * Keys to sync, given a reader and the `walk.roots` of the options (empty
   * without them); replaces the built-in walk over `walk.refs`.
   */
  walk?(read: ReadValues, roots: string[]): Promise<Iterable<string>>;
}

/** Bounds of the built-in walk (see WalkLimits for the defaults). */
export interface CompileLimits {
  /** the most keys a walk may visit before failing with WalkLimitError */
  maxWalkKeys?: number;
  /** keys per read during a walk, 1..500 (default 500) */
  walkChunkSize?: number;
  /** value nodes one walk may touch before failing with WalkLimitError */
  maxWalkSteps?: number;
  /** value nodes one value may take; beyond it the value has no refs */
  maxWalkValueSteps?: number;
  /** nesting a `..` may enter in one value; beyond it the value has no refs */
  maxWalkDepth?: number;
  /** the longest one walk may take before failing with WalkLimitError */
  walkTimeoutMs?: number;
}

/** The policy of a store without options: every key, rank 0, no walk. */
export const OPEN_POLICY: StorePolicy = Object.freeze({
  includesKey: () => true,
  rankOf: () => 0,
  ranks: Object.freeze([0]),
  keyFilter: Object.freeze({ prefixes: Object.freeze([]), excludePrefixes: Object.freeze([]) }),
});

/**
 * Compiles options (validated here; throws a ZodError when invalid) and
 * optional library functions into one policy.
 *
 * @example
 * const policy = compilePolicy({ filter: { prefixes: ['app/'] }, order: [{ prefix: 'app/db', rank: 1 }] });
 * policy.includesKey('app/db/x'); // true
 * policy.rankOf('app/db/x');      // 1
 */
export function compilePolicy(options?: SyncOptions, fns: PolicyFunctions = {}, limits: CompileLimits = {}): StorePolicy {
  const opts = options === undefined ? {} : SyncOptionsSchema.parse(options);
  if (!opts.filter && !opts.order && !opts.walk && !fns.filter && !fns.sortKey && !fns.walk) return OPEN_POLICY;

  const prefixes = minimalPrefixes(opts.filter?.prefixes ?? []);
  const excludePrefixes = minimalPrefixes(opts.filter?.excludePrefixes ?? []);
  const includesKey = (key: string): boolean => (prefixes.length === 0 || startsWithAny(key, prefixes)) && !startsWithAny(key, excludePrefixes);

  const policy: StorePolicy = { includesKey, rankOf: () => 0, keyFilter: Object.freeze({ prefixes, excludePrefixes }) };

  if (fns.sortKey) {
    const sortKey = fns.sortKey.bind(fns);
    policy.rankOf = (key) => {
      const rank = sortKey(key);
      if (typeof rank !== 'number' || !Number.isFinite(rank)) {
        throw new TypeError(`sortKey(${JSON.stringify(key)}) returned ${String(rank)}; a rank must be a finite number`);
      }
      return rank;
    };
  } else {
    const rules = [...(opts.order ?? [])].sort((a, b) => b.prefix.length - a.prefix.length);
    Object.assign(policy, { ranks: Object.freeze(possibleRanks(rules)) });
    if (rules.length > 0) {
      policy.rankOf = (key) => {
        for (const rule of rules) if (key.startsWith(rule.prefix)) return rule.rank;
        return 0;
      };
    }
  }

  if (fns.filter) {
    const filter = fns.filter.bind(fns);
    policy.includesValue = (key, value) => filter(key, value);
  }

  const roots = opts.walk?.roots ?? [];
  if (fns.walk) {
    const walk = fns.walk.bind(fns);
    policy.walk = async (read) => new Set(await walk(read, [...roots]));
  } else if (opts.walk) {
    const refsOf = compileRefs(opts.walk.refs);
    const walkLimits: WalkLimits = {};
    if (limits.maxWalkKeys !== undefined) walkLimits.maxKeys = limits.maxWalkKeys;
    if (limits.walkChunkSize !== undefined) walkLimits.chunkSize = limits.walkChunkSize;
    if (limits.maxWalkSteps !== undefined) walkLimits.maxSteps = limits.maxWalkSteps;
    if (limits.maxWalkValueSteps !== undefined) walkLimits.maxValueSteps = limits.maxWalkValueSteps;
    if (limits.maxWalkDepth !== undefined) walkLimits.maxDepth = limits.maxWalkDepth;
    if (limits.walkTimeoutMs !== undefined) walkLimits.timeoutMs = limits.walkTimeoutMs;
    policy.walk = (read, readSome) => walkReachable(read, roots, refsOf, walkLimits, readSome);
  }
  return Object.freeze(policy);
}

function startsWithAny(key: string, prefixes: readonly string[]): boolean {
  for (const p of prefixes) if (key.startsWith(p)) return true;
  return false;
}

/** Drops duplicates and prefixes covered by a shorter one; sorted, so stable across equal inputs. */
function minimalPrefixes(list: readonly string[]): readonly string[] {
  const sorted = [...new Set(list)].sort();
  const kept: string[] = [];
  // In sorted order every extension of p directly follows p (or another extension of it).
  for (const p of sorted) if (kept.length === 0 || !p.startsWith(kept[kept.length - 1]!)) kept.push(p);
  return Object.freeze(kept);
}

/** Ranks rankOf can return: every rule's rank, and 0 unless the empty prefix matches all keys. */
function possibleRanks(rules: readonly SyncOrderRule[]): Rank[] {
  const ranks = new Set(rules.map((r) => r.rank));
  if (!rules.some((r) => r.prefix === '')) ranks.add(0);
  return [...ranks].sort((a, b) => a - b);
}
