/**
 * The digest handshake's first step (docs/API.md, "Digests"): instead of a
 * ts for every key it holds, the replica sends a digest of each bucket of
 * keys (about 1 byte per key), and lists in `have` only the keys of the
 * buckets the server says differ. A replica that missed 1% of 100,000
 * writes sends about 0.4 MB instead of 4 MB, and the server compares a
 * few thousand keys instead of all of them.
 *
 * The replica may list more buckets than differ; it does so for keys whose
 * ts it cannot turn into whole microseconds (the server compares those).
 */
import { DigestFolder, digestBucketCount, type components } from '@keysync/protocol';
import { encodeBase64 } from './base64.js';
import type { HaveLists } from './local-store.js';
import { ProblemError } from './errors.js';
import { request, type SyncContext } from './sync-context.js';

/** Below this many keys the whole map costs less than a second round trip. */
export const DIGESTS_FROM_KEYS = 2000;

export type DigestBasis = components['schemas']['DigestBasis'];

/** The whole seconds of the last ts read in the server's own form, and their milliseconds (keys written together share them). */
let lastSeconds = '-';
let lastMs = 0;

/** A ts as whole microseconds since the epoch; NaN for one that is finer or not RFC 3339. */
export function tsMicros(ts: string): number {
  // The server's form, 2026-11-26T07:31:34.123456Z: the seconds' milliseconds once per second, the digits by hand.
  if (ts.length === 27 && ts.charCodeAt(19) === 46 && ts.charCodeAt(26) === 90) {
    if (!ts.startsWith(lastSeconds)) {
      lastSeconds = ts.slice(0, 19);
      lastMs = Date.parse(`${lastSeconds}Z`);
    }
    let micros = 0;
    for (let i = 20; i < 26; i++) {
      const digit = ts.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return Number.NaN;
      micros = micros * 10 + digit;
    }
    return lastMs * 1000 + micros;
  }
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(ts);
  if (!m) return Number.NaN;
  const ms = Date.parse(m[1]! + (m[3] === 'z' ? 'Z' : m[3]));
  const fraction = (m[2] ?? '').padEnd(9, '0');
  return fraction.endsWith('000') ? ms * 1000 + Number(fraction.slice(0, 6)) : Number.NaN;
}

/** A `have` map folded into bucket digests (foldHave). */
export interface FoldedHave extends HaveLists {
  folder: DigestFolder;
  /** each key's bucket */
  bucketOf: Uint32Array;
  /** buckets holding a key whose ts is not whole microseconds: listed whatever the server says */
  unfoldable: Set<number>;
}

export function foldHave({ keys, ts }: HaveLists): FoldedHave {
  const folder = new DigestFolder(digestBucketCount(keys.length));
  const bucketOf = new Uint32Array(keys.length);
  const unfoldable = new Set<number>();
  for (let i = 0; i < keys.length; i++) {
    const us = tsMicros(ts[i]!);
    bucketOf[i] = folder.add(keys[i]!, Number.isNaN(us) ? 0 : us);
    if (Number.isNaN(us)) unfoldable.add(bucketOf[i]!);
  }
  return { keys, ts, folder, bucketOf, unfoldable };
}

/** A `have` map as lists (LocalStore.haveLists). */
export function haveListsOf(have: Record<string, string>): HaveLists {
  const keys = Object.keys(have);
  return { keys, ts: keys.map((key) => have[key]!) };
}

/** The body of `POST .../sync/digests`. */
export const digestRequest = ({ folder }: FoldedHave, prefix: string | undefined): components['schemas']['DigestRequest'] => ({
  buckets: folder.buckets,
  digests: encodeBase64(folder.bytes()),
  ...(prefix !== undefined && { prefix }),
});

/** The handshake's `have` (the keys of the listed buckets) and `digest`, from the server's answer. */
export function digestHandshake(
  { keys, ts, bucketOf, unfoldable }: FoldedHave,
  answer: components['schemas']['DigestAnswer'],
): { have: Record<string, string>; digest: DigestBasis } {
  const listed = new Set([...unfoldable, ...answer.differ]);
  const have: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < keys.length; i++) if (listed.has(bucketOf[i]!)) have[keys[i]!] = ts[i]!;
  const { rev, optionsVersion, buckets } = answer;
  return { have, digest: { rev, optionsVersion, buckets, listed: [...listed].sort((a, b) => a - b) } };
}

/**
 * The `have` map of a digest handshake and its `digest` field, from what
 * the replica holds; undefined when the server cannot use digests (an older
 * server, or a store whose options decide per value: handshake with the
 * whole map).
 */
export async function digestHave(ctx: SyncContext, held: HaveLists): Promise<{ have: Record<string, string>; digest: DigestBasis } | undefined> {
  const folded = foldHave(held);
  const body = digestRequest(folded, ctx.prefix);
  const res = await request(ctx, (signal) => ctx.api.digests(ctx.storeId, body, { signal }));
  if (res.error) {
    if (res.error.status === 404 || res.error.status === 405 || res.error.status === 409) return undefined;
    throw new ProblemError(res.error, 'digests');
  }
  return digestHandshake(folded, res.data);
}
