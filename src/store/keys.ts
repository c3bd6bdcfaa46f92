/** What a key may be, and the SQL-friendly range of a prefix. */
import { ProblemError } from '../errors.js';

export const MAX_KEY_BYTES = 1024;

/** Returns the reason a key is not acceptable, or undefined when it is. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'key must not be empty';
  if (!key.isWellFormed()) return 'key must be valid Unicode (no lone surrogates)';
  if (key.includes('\u0000')) return 'key must not contain U+0000 (PostgreSQL text cannot hold it)';
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short keys need no count (bulk writes check every key).
  if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES) return `key must be at most ${MAX_KEY_BYTES} bytes of UTF-8`;
  return undefined;
}

export function assertKey(key: string, path = 'key'): void {
  const problem = keyProblem(key);
  if (problem) throw new ProblemError(400, 'validation', 'Validation Failed', problem, [{ path, message: problem }]);
}

/**
 * The smallest string greater than every string starting with `prefix`
 * (keys compare in code point order), or undefined when there is none.
 * `key >= prefix and key < successor` is then an index range.
 */
export function prefixSuccessor(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return points.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}
