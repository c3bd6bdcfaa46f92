/**
 * A key prefix as an index range. What a key may be is the wire rule in
 * @keysync/protocol (keys.ts); this is how the store reads the keys under a
 * prefix with the primary key (store_id, key).
 */

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
