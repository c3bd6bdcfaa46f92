/**
 * Bucket digests: a replica states what it holds in a few bytes per bucket
 * of keys instead of a ts per key (docs/API.md, "Digests"). Server and
 * replica each fold their (key, ts) pairs into `buckets` digests the same
 * way; only the buckets whose digests differ need their keys listed.
 *
 * The hash is PostgreSQL's `hashtextextended(text, seed)` (hash_bytes_extended,
 * Bob Jenkins' lookup3, reading bytes little-endian), so the database folds
 * a store's rows in SQL without a row reaching JavaScript. PostgreSQL keeps
 * this function stable across versions: hash partitioning stores its
 * results. A server on a big-endian machine hashes differently; every bucket
 * then differs, and the answer is still right, only larger.
 *
 * For each key k held with ts t (whole microseconds since the epoch):
 *   bucket(k)       = low 32 bits of H(utf8(k), 0), masked to `buckets` - 1
 *   digest[bucket] ^= H(utf8(k), t)   (64 bits, t as a signed 64-bit seed)
 * A bucket's digest is 8 bytes, big-endian; an empty bucket's is zero.
 */

/** The most buckets a digest request may carry (8 bytes each). */
export const MAX_DIGEST_BUCKETS = 1 << 18;

/** Keys per bucket a replica aims at: fewer keys to list per differing bucket, against 8 bytes per bucket sent. */
export const KEYS_PER_DIGEST_BUCKET = 8;

/** The bucket count for a replica holding `keys` keys: a power of two near keys / KEYS_PER_DIGEST_BUCKET, within 1..MAX_DIGEST_BUCKETS. */
export function digestBucketCount(keys: number): number {
  let buckets = 1;
  while (buckets < MAX_DIGEST_BUCKETS && buckets * KEYS_PER_DIGEST_BUCKET < keys) buckets *= 2;
  return buckets;
}

const rot = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/** The hash's two halves, written by hashBytes (no allocation per key). */
const out = new Int32Array(2);

/**
 * hash_bytes_extended(k[0..len), seed) of PostgreSQL (src/common/hashfn.c),
 * the seed given as its high and low 32 bits; the result's high half goes
 * to out[0], its low half to out[1].
 */
function hashBytes(k: Uint8Array, len: number, seedHi: number, seedLo: number): void {
  let a = (0x9e3779b9 + len + 3923095) | 0;
  let b = a;
  let c = a;
  // The seed is mixed in as a first 12-byte chunk (of which 4 bytes are zero).
  let seeded = seedHi !== 0 || seedLo !== 0;
  if (seeded) {
    a = (a + seedHi) | 0;
    b = (b + seedLo) | 0;
  }
  let i = 0;
  while (seeded || len - i >= 12) {
    if (!seeded) {
      a = (a + (k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24))) | 0;
      b = (b + (k[i + 4]! | (k[i + 5]! << 8) | (k[i + 6]! << 16) | (k[i + 7]! << 24))) | 0;
      c = (c + (k[i + 8]! | (k[i + 9]! << 8) | (k[i + 10]! << 16) | (k[i + 11]! << 24))) | 0;
      i += 12;
    }
    seeded = false;
    a = (a - c) | 0;
    a ^= rot(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 4);
    b = (b + a) | 0;
  }
  // The last 0-11 bytes; the lowest byte of c is left for the length.
  const rest = len - i;
  if (rest >= 9) c = (c + (k[i + 8]! << 8) + (rest >= 10 ? k[i + 9]! << 16 : 0) + (rest >= 11 ? k[i + 10]! << 24 : 0)) | 0;
  if (rest >= 5) b = (b + k[i + 4]! + (rest >= 6 ? k[i + 5]! << 8 : 0) + (rest >= 7 ? k[i + 6]! << 16 : 0) + (rest >= 8 ? k[i + 7]! << 24 : 0)) | 0;
  if (rest >= 1) a = (a + k[i]! + (rest >= 2 ? k[i + 1]! << 8 : 0) + (rest >= 3 ? k[i + 2]! << 16 : 0) + (rest >= 4 ? k[i + 3]! << 24 : 0)) | 0;
  c ^= b;
  c = (c - rot(b, 14)) | 0;
  a ^= c;
  a = (a - rot(c, 11)) | 0;
  b ^= a;
  b = (b - rot(a, 25)) | 0;
  c ^= b;
  c = (c - rot(b, 16)) | 0;
  a ^= c;
  a = (a - rot(c, 4)) | 0;
  b ^= a;
  b = (b - rot(a, 14)) | 0;
  c ^= b;
  c = (c - rot(b, 24)) | 0;
  out[0] = b;
  out[1] = c;
}

/**
 * A key's UTF-8 bytes, in a buffer reused from key to key (written here: the
 * package uses no platform API). encode may replace the buffer: read `utf8`
 * only after it returns.
 */
let utf8 = new Uint8Array(256);

function encode(key: string): number {
  if (utf8.length < key.length * 3) utf8 = new Uint8Array(key.length * 3);
  let n = 0;
  for (let i = 0; i < key.length; i++) {
    let unit = key.charCodeAt(i);
    if (unit < 0x80) utf8[n++] = unit;
    else if (unit < 0x800) {
      utf8[n++] = 0xc0 | (unit >> 6);
      utf8[n++] = 0x80 | (unit & 63);
    } else {
      const next = key.charCodeAt(i + 1);
      if (unit >= 0xd800 && unit < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
        // A surrogate pair: one character of four bytes.
        unit = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
        i++;
        utf8[n++] = 0xf0 | (unit >> 18);
        utf8[n++] = 0x80 | ((unit >> 12) & 63);
      } else {
        // A lone surrogate names no key (keys.ts); it is encoded as U+FFFD would be, as TextEncoder does.
        if (unit >= 0xd800 && unit < 0xe000) unit = 0xfffd;
        utf8[n++] = 0xe0 | (unit >> 12);
      }
      utf8[n++] = 0x80 | ((unit >> 6) & 63);
      utf8[n++] = 0x80 | (unit & 63);
    }
  }
  return n;
}

/** hashtextextended(key, seed) as PostgreSQL computes it, as [high, low] signed 32-bit halves (tests; DigestFolder folds without it). */
export function hashText(key: string, seed: number): [number, number] {
  const len = encode(key);
  hashBytes(utf8, len, Math.floor(seed / 2 ** 32) | 0, seed | 0);
  return [out[0]!, out[1]!];
}

/** The bucket of `key` among `buckets` (a power of two). */
export function digestBucketOf(key: string, buckets: number): number {
  const len = encode(key);
  hashBytes(utf8, len, 0, 0);
  return out[1]! & (buckets - 1);
}

/** Folds (key, ts) pairs into bucket digests. */
export class DigestFolder {
  /** each bucket's digest as its high and low 32 bits */
  readonly words: Int32Array;

  constructor(readonly buckets: number) {
    this.words = new Int32Array(2 * buckets);
  }

  /** Folds in `key` held at `micros` (whole microseconds since the epoch); returns its bucket. */
  add(key: string, micros: number): number {
    const len = encode(key);
    hashBytes(utf8, len, 0, 0);
    const bucket = out[1]! & (this.buckets - 1);
    hashBytes(utf8, len, Math.floor(micros / 2 ** 32) | 0, micros | 0);
    this.words[2 * bucket]! ^= out[0]!;
    this.words[2 * bucket + 1]! ^= out[1]!;
    return bucket;
  }

  /** The digests as the wire carries them: 8 bytes per bucket, big-endian. */
  bytes(): Uint8Array {
    return digestBytes(this.words);
  }
}

/** Digests held as DigestFolder.words holds them (high, low 32 bits per bucket) as the wire carries them: 8 bytes per bucket, big-endian. */
export function digestBytes(words: Int32Array): Uint8Array {
  const bytes = new Uint8Array(4 * words.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < words.length; i++) view.setInt32(4 * i, words[i]!);
  return bytes;
}

/** Buckets whose digests differ between `words` (as DigestFolder.words) and `digests` (as the wire carries them), ascending. */
export function differingBuckets(words: Int32Array, digests: Uint8Array): number[] {
  const view = new DataView(digests.buffer, digests.byteOffset, digests.byteLength);
  const differ: number[] = [];
  for (let b = 0; 2 * b < words.length; b++) {
    if (view.getInt32(8 * b) !== words[2 * b] || view.getInt32(8 * b + 4) !== words[2 * b + 1]) differ.push(b);
  }
  return differ;
}
