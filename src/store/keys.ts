/**
 * What a key may be: the one definition every route, bulk write, option and
 * walk checks against. No imports, so any layer may use it.
 */

/** The longest key (and option prefix or root), in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

const LONE_SURROGATE_OR_NUL = /[\p{Cs}\u0000]/u;

/**
 * Why a string cannot be stored as key text (may be empty: prefixes), or undefined when it can.
 * PostgreSQL text holds neither U+0000 nor a lone surrogate.
 */
export function textProblem(s: string, maxBytes = MAX_KEY_BYTES): string | undefined {
  if (LONE_SURROGATE_OR_NUL.test(s)) {
    return s.includes('\u0000') ? 'must not contain U+0000 (PostgreSQL text cannot hold it)' : 'must be valid Unicode (no lone surrogates)';
  }
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short strings need no count (bulk writes check every key).
  if (s.length * 3 > maxBytes && Buffer.byteLength(s) > maxBytes) return `must be at most ${maxBytes} bytes of UTF-8`;
  return undefined;
}

/** Returns the reason a key is not acceptable, or undefined when it is. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'key must not be empty';
  const problem = textProblem(key);
  return problem === undefined ? undefined : `key ${problem}`;
}

/** True for a string that can name a key. */
export const isKeyName = (s: string): boolean => keyProblem(s) === undefined;

/** True for a string that can be stored as key text (the empty string included). */
export const isStoredText = (s: string, maxBytes = MAX_KEY_BYTES): boolean => textProblem(s, maxBytes) === undefined;

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
