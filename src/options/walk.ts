/**
 * Reachability from walk roots, breadth first, without loading the store:
 * values are read one bounded chunk of the frontier at a time and dropped
 * once their refs are extracted; only key names stay in memory.
 */
import type { RefExtractor } from './json-path.js';
import { isKeyName } from '@keysync/protocol';

/**
 * Reads the current values of live (non-deleted) keys. Keys that are absent or
 * deleted are missing from the map; byte values map to `undefined` (present,
 * but without refs). Keys not asked for are ignored.
 */
export type ReadValues = (keys: string[]) => Promise<Map<string, unknown>>;

/**
 * Reads what fits of `keys` (values as for ReadValues) and names the live
 * keys it left for a next call: the server's reader bounds the bytes of one
 * read, so a chunk of large values is never in memory at once.
 */
export type ReadSome = (keys: string[]) => Promise<{ values: Map<string, unknown>; unread: string[] }>;

export const DEFAULT_WALK_CHUNK_SIZE = 500;
export const DEFAULT_MAX_WALK_KEYS = 1_000_000;
export const DEFAULT_MAX_WALK_STEPS = 50_000_000;
export const DEFAULT_MAX_WALK_VALUE_STEPS = 1_000_000;
export const DEFAULT_MAX_WALK_DEPTH = 1000;
export const DEFAULT_WALK_TIMEOUT_MS = 30_000;

/** The longest the walk runs before it gives the event loop a turn. */
const TURN_MS = 4;

export interface WalkLimits {
  /** keys per `read` call, 1..500 (default 500) */
  chunkSize?: number;
  /** the most key names a walk may visit, reached or dangling (default 1,000,000) */
  maxKeys?: number;
  /** the most nodes of values a walk may touch, all values together (default 50,000,000) */
  maxSteps?: number;
  /** the most nodes one value's evaluation may touch (default 1,000,000); beyond it the value has no refs */
  maxValueSteps?: number;
  /** the deepest nesting a `..` segment may enter in one value (default 1000); beyond it the value has no refs */
  maxDepth?: number;
  /** the longest a walk may take, reads included (default 30,000 ms) */
  timeoutMs?: number;
  /** told about each value whose refs were skipped because it exceeded its own budget */
  onSkipped?: (key: string, limit: 'steps' | 'depth') => void;
}

export type WalkLimitName = 'keys' | 'steps' | 'time';

const LIMIT_SETTING: Record<WalkLimitName, { setting: string; unit: string }> = {
  keys: { setting: 'KEYSYNC_WALK_MAX_KEYS', unit: 'keys' },
  steps: { setting: 'KEYSYNC_WALK_MAX_STEPS', unit: 'value nodes' },
  time: { setting: 'KEYSYNC_WALK_TIMEOUT_MS', unit: 'ms' },
};

/** A walk exceeded its budget for one handshake (keys visited, value nodes touched, or time). */
export class WalkLimitError extends Error {
  readonly code = 'walk-limit';
  constructor(
    readonly limit: WalkLimitName,
    readonly max: number,
  ) {
    const { setting, unit } = LIMIT_SETTING[limit];
    super(`the walk exceeded its limit of ${max} ${unit} (${setting}); narrow walk.roots or walk.refs, or raise the limit`);
    this.name = 'WalkLimitError';
  }
}

/**
 * The keys reachable from `roots`: each root that exists, and every existing
 * key named by a string a ref selects in the value of a reached key. Cycles
 * are followed once; names of absent keys are dropped from the result.
 *
 * Its cost is bounded: a value whose own evaluation exceeds `maxValueSteps`
 * or `maxDepth` is reached but contributes no refs (so only the keys reached
 * through it alone are missed), and a walk past `maxKeys`, `maxSteps` or
 * `timeoutMs` fails with a WalkLimitError. It gives the event loop a turn at
 * least every few milliseconds of its own work.
 *
 * @example
 * const reached = await walkReachable(read, ['root'], compileRefs(['$.children[*]']));
 */
export async function walkReachable(
  read: ReadValues,
  roots: readonly string[],
  refsOf: RefExtractor,
  limits: WalkLimits = {},
  readSome: ReadSome = async (keys) => ({ values: await read(keys), unread: [] }),
): Promise<Set<string>> {
  const chunkSize = limits.chunkSize ?? DEFAULT_WALK_CHUNK_SIZE;
  const maxKeys = limits.maxKeys ?? DEFAULT_MAX_WALK_KEYS;
  const maxSteps = limits.maxSteps ?? DEFAULT_MAX_WALK_STEPS;
  const timeoutMs = limits.timeoutMs ?? DEFAULT_WALK_TIMEOUT_MS;
  const valueBudget = { maxSteps: limits.maxValueSteps ?? DEFAULT_MAX_WALK_VALUE_STEPS, maxDepth: limits.maxDepth ?? DEFAULT_MAX_WALK_DEPTH };
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > DEFAULT_WALK_CHUNK_SIZE) {
    throw new RangeError(`walk chunkSize must be an integer from 1 to ${DEFAULT_WALK_CHUNK_SIZE}, got ${chunkSize}`);
  }
  for (const [name, n] of Object.entries({ maxKeys, maxSteps, timeoutMs, maxValueSteps: valueBudget.maxSteps, maxDepth: valueBudget.maxDepth })) {
    if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`walk ${name} must be a non-negative integer, got ${n}`);
  }

  const deadline = performance.now() + timeoutMs;
  let turnStarted = performance.now();
  const pause = (): Promise<void> | undefined => {
    const now = performance.now();
    if (now > deadline) throw new WalkLimitError('time', timeoutMs);
    if (now - turnStarted < TURN_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      turnStarted = performance.now();
    });
  };
  let steps = 0;

  // `seen` holds every name ever queued, so each key is read at most once;
  // dangling names are removed at the end, leaving exactly the reached keys.
  const seen = new Set<string>();
  const dangling: string[] = [];
  let level: string[] = [];
  const visit = (name: string, next: string[]) => {
    if (seen.has(name) || !isKeyName(name)) return;
    if (seen.size >= maxKeys) throw new WalkLimitError('keys', maxKeys);
    seen.add(name);
    next.push(name);
  };
  for (const root of roots) visit(root, level);

  while (level.length > 0) {
    const next: string[] = [];
    for (let start = 0; start < level.length; start += chunkSize) {
      let chunk = level.slice(start, start + chunkSize);
      while (chunk.length > 0) {
        const { values, unread } = await readSome(chunk);
        if (unread.length >= chunk.length) throw new Error('walk: a read returned none of the keys it was given');
        await pause();
        const later = new Set(unread);
        for (const key of chunk) {
          if (later.has(key)) continue;
          if (!values.has(key)) {
            dangling.push(key);
            continue;
          }
          const budget = { maxSteps: Math.min(valueBudget.maxSteps, maxSteps - steps + 1), maxDepth: valueBudget.maxDepth };
          const result = await refsOf(values.get(key), budget, pause);
          steps += result.steps;
          if (steps > maxSteps) throw new WalkLimitError('steps', maxSteps);
          if (!result.ok) {
            limits.onSkipped?.(key, result.limit);
            continue;
          }
          for (const ref of result.refs) visit(ref, next);
          await pause();
        }
        chunk = unread;
      }
    }
    level = next;
  }
  for (const key of dangling) seen.delete(key);
  return seen;
}
