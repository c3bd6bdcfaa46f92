/**
 * Key ↔ file name for `keysync-mirror`. Keys may hold any character, so a
 * file name keeps only [A-Za-z0-9_-] and percent-encodes every other UTF-8
 * byte, `.` included. That makes the mapping one-to-one, keeps every file
 * at the top of the mirror directory (no `/`), never yields `.`, `..` or a
 * hidden name, and makes a `.json` suffix unambiguous: JSON values are
 * `<name>.json`, bytes are `<name>`.
 *
 * Names over 200 bytes (file systems stop at 255) keep their first 150
 * encoded characters plus `~` and a SHA-256 prefix of the key; `~` never
 * appears otherwise, so those cannot collide with plain names.
 *
 * Keys that differ only in letter case collide on case-insensitive file
 * systems (macOS, Windows defaults).
 */
import { createHash } from 'node:crypto';

const SAFE = /^[A-Za-z0-9_-]$/;
const MAX = 200;

/** @example fileBase('users/1.v2') // 'users%2F1%2Ev2' */
export function fileBase(key: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(key)) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length <= MAX) return out;
  // Cut at a whole escape, never inside one.
  let cut = 150;
  while (cut > 0 && out.lastIndexOf('%', cut - 1) > cut - 3) cut--;
  return `${out.slice(0, cut)}~${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/** The file of a JSON value and the file of bytes, for one key. */
export function fileNames(key: string): { json: string; bytes: string } {
  const base = fileBase(key);
  return { json: `${base}.json`, bytes: base };
}

/** The key of a plain (not hashed) file name, or undefined. */
export function keyOf(fileName: string): string | undefined {
  const base = fileName.endsWith('.json') ? fileName.slice(0, -5) : fileName;
  if (base.includes('~') || !/^(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+$/.test(base)) return undefined;
  try {
    return decodeURIComponent(base);
  } catch {
    return undefined;
  }
}
