/**
 * The client's `have` map as the handshake compares it (have-diff.sql.ts):
 * its keys sorted in code point order, which is the order of the store's
 * keys in the database (`COLLATE "C"` compares UTF-8 bytes, and UTF-8 keeps
 * code point order), so that a run of the list covers one key range of the
 * store; each key with its ts in microseconds (src/http/handshake-body/have-ts.ts).
 *
 * Held as the text the database reads: the keys as JSON strings and their
 * micros as JSON numbers, each run comma-separated, with the end of each
 * item. A run of keys for a statement is then one slice of a string, and
 * the list crosses threads as two strings and three typed arrays. A large
 * body's list is built and sorted on the worker thread that reads it
 * (src/http/handshake-body/input.ts), off the event loop.
 *
 * Strings that can name no key (empty, too long, U+0000, lone surrogates:
 * keys.ts) are kept apart in `others`: no store holds them, so they are
 * removed whatever the store holds (and PostgreSQL text could not carry
 * them).
 */
import { MAX_KEY_BYTES, isKeyName } from '@keysync/protocol';

/** A HaveList as plain data (it crosses a thread). */
export interface HaveListData {
  /** the key names in code point order, each as a JSON string, comma-separated */
  keysJson: string;
  /** where each key's JSON ends in `keysJson` */
  keyEnds: Uint32Array;
  /** each key's ts as whole microseconds (JSON numbers), or null for a ts finer than a microsecond, comma-separated */
  microsJson: string;
  /** where each ts ends in `microsJson` */
  microsEnds: Uint32Array;
  /** each key's ts in microseconds; a ts finer than a microsecond has a half (src/http/handshake-body/have-ts.ts) */
  micros: Float64Array;
  /** strings of the map that can name no key */
  others: string[];
  /** no key holds a character JSON escapes or a unit from U+D800 up: each key's JSON is the key between two quotes */
  plain: boolean;
}

/**
 * A character that needs a closer look: a control character, a quote or a
 * backslash (escaped in JSON; U+0000 names no key), or a UTF-16 unit from
 * U+D800 up (surrogates; only from there on does UTF-16 order differ from
 * code point order).
 */
const SPECIAL = /[\u0000-\u001f"\\\ud800-\uffff]/;
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

/** A map with at most one key in this many out of order is sorted by merging its runs (see buildHaveList). */
const NEARLY_SORTED = 16;

/** Sorts the entries of a `have` map into a list; undefined when a key comes twice. */
export function buildHaveList(keys: readonly string[], micros: ArrayLike<number>): HaveListData | undefined {
  const named: number[] = [];
  const others: string[] = [];
  /** some key holds a character JSON escapes, or a unit from U+D800 up */
  let special = false;
  let high = false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const plain = !SPECIAL.test(key);
    // Without U+0000 or surrogates, a short key needs no closer look (keys.ts).
    if (!(plain && key.length !== 0 && key.length * 3 <= MAX_KEY_BYTES) && !isKeyName(key)) {
      others.push(key);
      continue;
    }
    if (!plain) {
      special = true;
      high ||= HIGH_UNIT.test(key);
    }
    named.push(i);
  }
  const compare = high ? compareCodePoints : compareUnits;
  const byKey = (a: number, b: number) => compare(keys[a]!, keys[b]!);
  // Clients often send their keys in order already (a store kept in key order), or
  // nearly (a replica in write order after a load in key order): count the places
  // out of order in one pass.
  let descents = 0;
  for (let i = 1; i < named.length; i++) if (byKey(named[i - 1]!, named[i]!) >= 0) descents++;
  let order: ArrayLike<number> = named;
  if (descents > 0) {
    if (descents <= named.length / NEARLY_SORTED) {
      // Array#sort is a TimSort: long runs in order are merged, not sorted again
      // (1M keys with 0.6% out of place: 40 ms, against 140 ms for the typed sort).
      named.sort(byKey);
    } else {
      // Far from sorted: the typed array's sort is the faster one (1M random keys: 0.8 s against 1.1 s).
      order = Uint32Array.from(named).sort(byKey);
    }
    for (let i = 1; i < order.length; i++) if (keys[order[i - 1]!] === keys[order[i]!]) return undefined;
  }
  if (others.length > 1 && new Set(others).size < others.length) return undefined;

  const n = order.length;
  const sortedKeys: string[] = new Array(n);
  const sortedMicros = new Float64Array(n);
  let finer = false;
  for (let i = 0; i < n; i++) {
    sortedKeys[i] = keys[order[i]!]!;
    const us = micros[order[i]!]!;
    sortedMicros[i] = us;
    finer ||= !Number.isInteger(us);
  }
  // Keys JSON does not escape are their own JSON between two quotes: one join
  // (JSON.stringify of a million strings takes four times as long). Whole
  // micros print as JSON integers; a ts finer than a microsecond names no
  // write of the server, and goes as null, which equals none.
  const keysJson = special ? JSON.stringify(sortedKeys).slice(1, -1) : n === 0 ? '' : `"${sortedKeys.join('","')}"`;
  const microsJson = finer ? JSON.stringify(Array.from(sortedMicros, (us) => (Number.isInteger(us) ? us : null))).slice(1, -1) : sortedMicros.join(',');
  const keyEnds = new Uint32Array(n);
  if (special) itemEnds(keysJson, keyEnds);
  else {
    // Keys JSON does not escape are their own JSON between two quotes.
    let end = -1;
    for (let i = 0; i < n; i++) keyEnds[i] = end += sortedKeys[i]!.length + 3;
  }
  const microsEnds = new Uint32Array(n);
  itemEnds(microsJson, microsEnds);
  return { keysJson, keyEnds, microsJson, microsEnds, micros: sortedMicros, others, plain: !special };
}

/** The end of each item of a comma-separated run of JSON numbers, nulls or strings, into `ends`. */
function itemEnds(text: string, ends: Uint32Array): void {
  let at = 0;
  for (let i = 0; i < ends.length; i++) {
    if (text.charCodeAt(at) === QUOTE) {
      // A JSON string: up to its closing quote (an escaped one is preceded by a backslash).
      let close = text.indexOf('"', at + 1);
      while (text.charCodeAt(close - 1) === BACKSLASH && escapedQuote(text, close)) close = text.indexOf('"', close + 1);
      at = close + 1;
    } else {
      const comma = text.indexOf(',', at);
      at = comma === -1 ? text.length : comma;
    }
    ends[i] = at;
    at++;
  }
}

/** Whether the quote at `quote` is escaped: an odd run of backslashes before it. */
function escapedQuote(text: string, quote: number): boolean {
  let backslashes = 0;
  for (let i = quote - 1; text.charCodeAt(i) === BACKSLASH; i--) backslashes++;
  return backslashes % 2 === 1;
}

const QUOTE = 34;
const BACKSLASH = 92;

/** Keys per turn of the event loop in `toMap`. */
const MAP_SLICE = 10_000;

export class HaveList {
  constructor(private readonly data: HaveListData) {}

  /** A list from key -> micros entries, each key once (small maps: sorted on the calling thread). */
  static of(entries: Iterable<readonly [string, number]>): HaveList {
    const keys: string[] = [];
    const micros: number[] = [];
    for (const [key, us] of entries) {
      keys.push(key);
      micros.push(us);
    }
    const data = buildHaveList(keys, micros);
    if (!data) throw new TypeError('a have map names each key once');
    return new HaveList(data);
  }

  /** how many keys (names) the list holds, `others` aside */
  get size(): number {
    return this.data.keyEnds.length;
  }

  /** strings of the map that can name no key */
  get others(): readonly string[] {
    return this.data.others;
  }

  key(i: number): string {
    return JSON.parse(this.data.keysJson.slice(i === 0 ? 0 : this.data.keyEnds[i - 1]! + 1, this.data.keyEnds[i])) as string;
  }

  /** The keys from `from` up to `to` (excluded) as a JSON array. */
  keysJson(from: number, to: number): string {
    return `[${slice(this.data.keysJson, this.data.keyEnds, from, to)}]`;
  }

  /** Their ts as a JSON array of whole microseconds, null for a ts finer than a microsecond. */
  microsJson(from: number, to: number): string {
    return `[${slice(this.data.microsJson, this.data.microsEnds, from, to)}]`;
  }

  /**
   * Whether every key's JSON is the key itself between two quotes (no key
   * holds a quote, a backslash, a control character or a unit from U+D800
   * up): then `keysText` names the keys without JSON.
   */
  get plain(): boolean {
    return this.data.plain;
  }

  /**
   * The keys from `from` up to `to` (excluded) of a plain list, each
   * separated from the next by `","` (which no plain key holds): the JSON
   * array less its brackets and outer quotes, '' for none. The database
   * splits this text faster than it parses the JSON.
   */
  keysText(from: number, to: number): string {
    if (!this.data.plain) throw new TypeError('keysText: the list holds keys that JSON escapes');
    return slice(this.data.keysJson, this.data.keyEnds, from, to).slice(1, -1);
  }

  /** Their ts as comma-separated whole microseconds, `null` for a ts finer than a microsecond; '' for none. */
  microsText(from: number, to: number): string {
    return slice(this.data.microsJson, this.data.microsEnds, from, to);
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
      const keys = JSON.parse(this.keysJson(from, to)) as string[];
      for (let i = from; i < to; i++) map.set(keys[i - from]!, this.data.micros[i]!);
    }
    // No store key equals one of these: any ts will do.
    for (const key of this.data.others) map.set(key, Number.NaN);
    return map;
  }
}

/** Items `from` up to `to` of a comma-separated run whose items end at `ends`. */
function slice(text: string, ends: Uint32Array, from: number, to: number): string {
  return from >= to ? '' : text.slice(from === 0 ? 0 : ends[from - 1]! + 1, ends[to - 1]);
}
