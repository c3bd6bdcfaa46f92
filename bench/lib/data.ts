/** Deterministic keys and ~1 KiB JSON values, and loading them through bulk `writes`. */
import { randomBytes } from 'node:crypto';
import { bulkWrite } from './http.js';

const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');

export const keyOf = (prefix: string, i: number) => `${prefix}/${String(i).padStart(8, '0')}`;

/** A JSON value of about `bytes` bytes once serialized (default ~1 KiB). */
export function valueOf(i: number, bytes = 1024, version = 0): Record<string, unknown> {
  const words: string[] = [];
  let len = 0;
  for (let w = i; len < bytes - 120; w++) {
    const word = WORDS[(w * 7 + version) % WORDS.length]!;
    words.push(word);
    len += word.length + 1;
  }
  return { id: i, version, name: `item ${i}`, tags: ['bench', `g${i % 16}`], score: (i * 37) % 1000, body: words.join(' ') };
}

/** A JSON value of about 1 KiB serialized whose text is random (base64 of random bytes): what compression cannot shrink much. */
export function randomValueOf(i: number): Record<string, unknown> {
  return { id: i, body: randomBytes(750).toString('base64') };
}

export interface LoadResult {
  /** key -> ts of every key written (the `have` map of an up-to-date client) */
  have: Record<string, string>;
  headRev: number;
  seconds: number;
}

/**
 * Writes keys [0, n) under `prefix` in bulk requests of `perRequest` ops,
 * `concurrency` requests in flight (the store row lock serializes commits).
 */
export async function loadKeys(
  baseUrl: string,
  storeId: string,
  opts: {
    prefix: string;
    n: number;
    bytes?: number;
    version?: number;
    perRequest?: number;
    concurrency?: number;
    keys?: number[];
    value?: (i: number) => unknown;
  },
): Promise<LoadResult> {
  const started = performance.now();
  const per = opts.perRequest ?? 1000;
  const ids = opts.keys ?? Array.from({ length: opts.n }, (_, i) => i);
  const have: Record<string, string> = {};
  let headRev = 0;
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const chunk = ids.slice(next, (next += per));
      const ops = chunk.map((i) => ({
        op: 'put' as const,
        key: keyOf(opts.prefix, i),
        value: opts.value ? opts.value(i) : valueOf(i, opts.bytes, opts.version),
      }));
      const results = await bulkWrite(baseUrl, storeId, ops);
      for (const r of results) {
        have[r.key] = r.ts;
        headRev = Math.max(headRev, r.rev);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 2 }, worker));
  return { have, headRev, seconds: (performance.now() - started) / 1000 };
}
