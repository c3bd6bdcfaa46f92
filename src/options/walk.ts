/**
 * Reachability from walk roots, breadth first, without loading the store:
 * values are read one bounded chunk of the frontier at a time and dropped
 * once their refs are extracted; only key names stay in memory.
 */
import type { RefExtractor } from './json-path.js';
import { isKeyName } from '../store/keys.js';

/**
 * Reads the current values of live (non-deleted) keys. Keys that are absent or
 * deleted are missing from the map; byte values map to `undefined` (present,
 * but without refs). Keys not asked for are ignored.
 */
export type ReadValues = (keys: string[]) => Promise<Map<string, unknown>>;

export const DEFAULT_WALK_CHUNK_SIZE = 500;
export const DEFAULT_MAX_WALK_KEYS = 10_000_000;

export interface WalkLimits {
  /** keys per `read` call, 1..500 (default 500) */
  chunkSize?: number;
  /**
   * the most key names a walk may visit, reached or dangling (default
   * 10,000,000); beyond it the walk fails with a WalkLimitError instead of
   * growing without bound
   */
  maxKeys?: number;
}

/** A walk visited more key names than its limit allows. */
export class WalkLimitError extends Error {
  readonly code = 'walk-limit';
  constructor(readonly maxKeys: number) {
    super(`walk visited more than ${maxKeys} keys; narrow walk.roots or walk.refs, or raise the walk key limit`);
    this.name = 'WalkLimitError';
  }
}

/** Evaluating the refs of one value failed (e.g. a value nested too deeply). */
export class WalkRefError extends Error {
  readonly code = 'walk-ref';
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super(`could not evaluate walk refs on the value of key ${JSON.stringify(key)}: ${String(cause)}`, { cause });
    this.name = 'WalkRefError';
  }
}

/**
 * The keys reachable from `roots`: each root that exists, and every existing
 * key named by a string a ref selects in the value of a reached key. Cycles
 * are followed once; names of absent keys are dropped from the result.
 *
 * @example
 * const reached = await walkReachable(read, ['root'], compileRefs(['$.children[*]']));
 */
export async function walkReachable(
  read: ReadValues,
  roots: readonly string[],
  refsOf: RefExtractor,
  limits: WalkLimits = {},
): Promise<Set<string>> {
  const chunkSize = limits.chunkSize ?? DEFAULT_WALK_CHUNK_SIZE;
  const maxKeys = limits.maxKeys ?? DEFAULT_MAX_WALK_KEYS;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > DEFAULT_WALK_CHUNK_SIZE) {
    throw new RangeError(`walk chunkSize must be an integer from 1 to ${DEFAULT_WALK_CHUNK_SIZE}, got ${chunkSize}`);
  }
  if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new RangeError(`walk maxKeys must be a non-negative integer, got ${maxKeys}`);

  // `seen` holds every name ever queued, so each key is read at most once;
  // dangling names are removed at the end, leaving exactly the reached keys.
  const seen = new Set<string>();
  const dangling: string[] = [];
  let level: string[] = [];
  const visit = (name: string, next: string[]) => {
    if (seen.has(name) || !isKeyName(name)) return;
    if (seen.size >= maxKeys) throw new WalkLimitError(maxKeys);
    seen.add(name);
    next.push(name);
  };
  for (const root of roots) visit(root, level);

  while (level.length > 0) {
    const next: string[] = [];
    for (let start = 0; start < level.length; start += chunkSize) {
      const chunk = level.slice(start, start + chunkSize);
      const values = await read(chunk);
      for (const key of chunk) {
        if (!values.has(key)) {
          dangling.push(key);
          continue;
        }
        let refs: string[];
        try {
          refs = refsOf(values.get(key));
        } catch (err) {
          throw new WalkRefError(key, err);
        }
        for (const ref of refs) visit(ref, next);
      }
    }
    level = next;
  }
  for (const key of dangling) seen.delete(key);
  return seen;
}
