/**
 * What a key may be on the wire: the one definition the server checks every
 * route, bulk write, option and walk against, and the client's stores hold
 * to. A key is non-empty, valid Unicode (no lone surrogate) without U+0000,
 * and at most MAX_KEY_BYTES bytes of UTF-8; a key prefix or option string
 * obeys the same rule but may be empty.
 */

/** The longest key (and option prefix or root), in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

const LONE_SURROGATE_OR_NUL = /[\p{Cs}\u0000]/u;

/**
 * Why a string cannot be key text (it may be empty: a prefix), or undefined
 * when it can. The server keeps keys as PostgreSQL text, which holds neither
 * U+0000 nor a lone surrogate.
 */
export function keyTextProblem(s: string): string | undefined {
  if (LONE_SURROGATE_OR_NUL.test(s)) {
    return s.includes('\u0000') ? 'must not contain U+0000 (PostgreSQL text cannot hold it)' : 'must be valid Unicode (no lone surrogates)';
  }
  // A UTF-16 code unit is at most 3 bytes of UTF-8: short strings need no count (bulk writes check every key).
  if (s.length * 3 > MAX_KEY_BYTES && utf8Length(s) > MAX_KEY_BYTES) return `must be at most ${MAX_KEY_BYTES} bytes of UTF-8`;
  return undefined;
}

/** Why `key` cannot be a key, or undefined when it can. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'key must not be empty';
  const problem = keyTextProblem(key);
  return problem === undefined ? undefined : `key ${problem}`;
}

/** True for a string that can name a key. */
export const isKeyName = (s: string): boolean => keyProblem(s) === undefined;

/** True for a string that can be key text: a key, or a prefix (the empty string included). */
export const isKeyText = (s: string): boolean => keyTextProblem(s) === undefined;

/**
 * Bytes of `s` in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD,
 * as encoders write it). Counted here because the package uses no runtime
 * API (Buffer is Node's, TextEncoder would copy the string).
 */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
