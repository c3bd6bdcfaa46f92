/**
 * The client's `have` map as the handshake compares it (have-diff.sql.ts):
 * its keys sorted in code point order, which is the order of the store's
 * keys in the database (`COLLATE "C"` compares UTF-8 bytes, and UTF-8 keeps
 * code point order), so that a run of the list covers one key range of the
 * store; each key with its ts in microseconds (have-ts.ts).
 *
 * A large body's list is built and sorted on the worker thread that reads it
 * (handshake-input.ts); the keys cross threads as one string with their end
 * offsets (a key may hold any character, so no separator is safe).
 *
 * Strings that can name no key (empty, too long, U+0000, lone surrogates:
 * keys.ts) are kept apart in `others`: no store holds them, so they are
 * removed whatever the store holds (and PostgreSQL text could not carry
 * them).
 */
import { isKeyName } from '../store/keys.js';

/** A HaveList as plain data (it crosses a thread). */
export interface HaveListData {
  /** the key names one after another, in code point order */
  text: string;
  /** where each key ends in `text` */
  ends: Uint32Array;
  /** each key's ts in microseconds; a ts finer than a microsecond has a half (have-ts.ts) */
  micros: Float64Array;
  /** strings of the map that can name no key */
  others: string[];
}

/** Any UTF-16 unit from U+D800 up: only there does UTF-16 order differ from code point order. */
const HIGH_UNIT = /[\ud800-\uffff]/;

/**
 * -1, 0 or 1 as `a` sorts before, with or after `b` in code point order.
 * JavaScript's `<` compares UTF-16 units, which sorts a character above
 * U+FFFF (a surrogate pair) before U+E000..U+FFFF; this does not.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) < codePointRank(y) ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** A UTF-16 unit moved so that surrogates (the start of a character above U+FFFF) sort after U+E000..U+FFFF. */
const codePointRank = (unit: number) => (unit < 0xd800 ? unit : unit < 0xe000 ? unit + 0x2000 : unit - 0x800);

const compareUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Sorts the entries of a `have` map (keys unique) into a list. */
export function buildHaveList(keys: readonly string[], micros: ArrayLike<number>): HaveListData {
  const named: number[] = [];
  const others: string[] = [];
  let high = false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (!isKeyName(key)) others.push(key);
    else {
      named.push(i);
      if (!high && HIGH_UNIT.test(key)) high = true;
    }
  }
  const compare = high ? compareCodePoints : compareUnits;
  const order = Uint32Array.from(named);
  // Clients often send their keys in order already: a pass instead of a sort.
  let sorted = true;
  for (let i = 1; i < order.length && sorted; i++) sorted = compare(keys[order[i - 1]!]!, keys[order[i]!]!) < 0;
  if (!sorted) order.sort((a, b) => compare(keys[a]!, keys[b]!));

  const ends = new Uint32Array(order.length);
  const out = new Float64Array(order.length);
  const parts: string[] = new Array(order.length);
  let end = 0;
  for (let i = 0; i < order.length; i++) {
    const key = keys[order[i]!]!;
    parts[i] = key;
    ends[i] = end += key.length;
    out[i] = micros[order[i]!]!;
  }
  return { text: parts.join(''), ends, micros: out, others };
}

/** Turns of the event loop: map entries added per turn by `toMap`. */
const MAP_SLICE = 10_000;

export class HaveList {
  constructor(private readonly data: HaveListData) {}

  /** A list from key -> micros entries (small maps: sorted on the calling thread). */
  static of(entries: Iterable<readonly [string, number]>): HaveList {
    const keys: string[] = [];
    const micros: number[] = [];
    for (const [key, us] of entries) {
      keys.push(key);
      micros.push(us);
    }
    return new HaveList(buildHaveList(keys, micros));
  }

  /** how many keys (names) the list holds, `others` aside */
  get size(): number {
    return this.data.ends.length;
  }

  /** strings of the map that can name no key */
  get others(): readonly string[] {
    return this.data.others;
  }

  key(i: number): string {
    return this.data.text.slice(i === 0 ? 0 : this.data.ends[i - 1], this.data.ends[i]);
  }

  /** The keys from `from` up to `to` (excluded). */
  keys(from: number, to: number): string[] {
    const out: string[] = new Array(to - from);
    for (let i = from; i < to; i++) out[i - from] = this.key(i);
    return out;
  }

  /** Their ts as whole microseconds; null for a ts finer than a microsecond, which names no write of the server. */
  micros(from: number, to: number): Array<number | null> {
    const out: Array<number | null> = new Array(to - from);
    for (let i = from; i < to; i++) {
      const us = this.data.micros[i]!;
      out[i - from] = Number.isInteger(us) ? us : null;
    }
    return out;
  }

  /** The first index from `from` (up to `to`) whose key sorts after `key`, or `to`. */
  indexAfter(key: string, from: number, to: number): number {
    let lo = from;
    let hi = to;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareCodePoints(this.key(mid), key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Every entry, `others` included, as key -> micros (for the comparison in JavaScript), a slice per turn of the event loop. */
  async toMap(): Promise<Map<string, number>> {
    const map = new Map<string, number>();
    for (let from = 0; from < this.size; from += MAP_SLICE) {
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      const to = Math.min(this.size, from + MAP_SLICE);
      for (let i = from; i < to; i++) map.set(this.key(i), this.data.micros[i]!);
    }
    // No store key equals one of these: any ts will do.
    for (const key of this.data.others) map.set(key, Number.NaN);
    return map;
  }
}
