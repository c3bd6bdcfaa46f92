/**
 * What may name a key, mirrored from the store's key rules so that a walk
 * never asks the database for a name no key can have (a NUL or a lone
 * surrogate would not even survive the trip into PostgreSQL text).
 */
export const MAX_KEY_BYTES = 1024;

const LONE_SURROGATE_OR_NUL = /[\p{Cs}\u0000]/u;

/** UTF-8 length of a string; lone surrogates count 3 bytes, as U+FFFD. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** True for strings that are valid Unicode without U+0000, at most `maxBytes` of UTF-8. */
export function isStoredText(s: string, maxBytes = MAX_KEY_BYTES): boolean {
  // 3 bytes per UTF-16 unit at most, so short strings skip the count.
  return (s.length * 3 <= maxBytes || utf8Length(s) <= maxBytes) && !LONE_SURROGATE_OR_NUL.test(s);
}

/** A string that can name a key: non-empty stored text of at most 1024 bytes. */
export function isKeyName(s: string): boolean {
  return s.length > 0 && isStoredText(s);
}
