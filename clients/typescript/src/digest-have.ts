/**
 * The digest handshake's first step (docs/API.md, "Digests"): instead of a
 * ts for every key it holds, the replica compares a digest of each bucket
 * of keys (about 1 byte per key) with the store's, and lists in `have` only
 * the keys of the buckets that differ. A replica that missed 1% of 100,000
 * writes exchanges about 0.5 MB instead of sending 4 MB, and the server
 * compares a few thousand keys instead of all of them.
 *
 * The replica asks for the store's digests and folds its own keys while the
 * server folds the store's, then compares them itself. Folding first and
 * then sending its digests, it waited for both folds (100,000 keys: 15-25 ms
 * in the TS client, 30-45 ms in PostgreSQL, on the bench machine); a
 * reconnect after 1% changed took 160 ms (median of 16) against 142 ms this
 * way. A server older than that answer is sent the replica's digests, and
 * names the buckets.
 *
 * The replica may list more buckets than differ; it does so for keys whose
 * ts it cannot turn into whole microseconds (the server compares those).
 */
import { DigestFolder, differingBuckets, digestBucketCount, parseTsMicros, type components } from '@keysync/protocol';
import { decodeBase64, encodeBase64 } from './base64.js';
import type { HaveLists } from './local-store.js';
import { HaveMembers } from './stores/plan.js';
import { ProblemError } from './errors.js';
import { request, type SyncContext } from './sync-context.js';

/** Below this many keys the whole map costs less than a second round trip. */
export const DIGESTS_FROM_KEYS = 2000;

export type DigestBasis = components['schemas']['DigestBasis'];

/**
 * A ts as whole microseconds since the epoch (parseTsMicros, which the
 * server compares `have` maps with); NaN for one that is finer or not
 * RFC 3339, which no digest can hold.
 */
export function tsMicros(ts: string): number {
  const us = parseTsMicros(ts);
  return us !== undefined && Number.isInteger(us) ? us : Number.NaN;
}

/** A `have` map folded into bucket digests (foldHave). */
export interface FoldedHave extends HaveLists {
  folder: DigestFolder;
  /** each key's bucket */
  bucketOf: Uint32Array;
  /** buckets holding a key whose ts is not whole microseconds: listed whatever the server says */
  unfoldable: Set<number>;
}

export function foldHave({ keys, ts }: HaveLists, buckets = digestBucketCount(keys.length)): FoldedHave {
  const folder = new DigestFolder(buckets);
  const bucketOf = new Uint32Array(keys.length);
  const unfoldable = new Set<number>();
  for (let i = 0; i < keys.length; i++) {
    const us = tsMicros(ts[i]!);
    bucketOf[i] = folder.add(keys[i]!, Number.isNaN(us) ? 0 : us);
    if (Number.isNaN(us)) unfoldable.add(bucketOf[i]!);
  }
  return { keys, ts, folder, bucketOf, unfoldable };
}

/** A `have` map object as lists (what LocalStore.haveLists gives; a store without it gives the object). */
export function haveListsOfMap(have: Record<string, string>): HaveLists {
  const keys = Object.keys(have);
  return { keys, ts: keys.map((key) => have[key]!) };
}

/** The lists as `have` map JSON text (as LocalStore.haveJson writes it). */
export function haveJsonOfLists({ keys, ts }: HaveLists): string {
  const members = new HaveMembers();
  for (let i = 0; i < keys.length; i++) members.add(keys[i]!, ts[i]!);
  return members.json();
}

/** The body of `POST .../sync/digests` that names the buckets that differ from the replica's digests. */
export const digestRequest = ({ folder }: FoldedHave, prefix: string | undefined): components['schemas']['DigestRequest'] => ({
  buckets: folder.buckets,
  digests: encodeBase64(folder.bytes()),
  ...(prefix !== undefined && { prefix }),
});

/** A digests answer that names the buckets that differ. */
export type DigestComparison = components['schemas']['DigestAnswer'] & { differ: number[] };

/** The handshake's `have` (the keys of the listed buckets) and `digest`, from the server's answer. */
export function digestHandshake(
  { keys, ts, bucketOf, unfoldable }: FoldedHave,
  answer: DigestComparison,
): { have: Record<string, string>; digest: DigestBasis } {
  const listed = new Set([...unfoldable, ...answer.differ]);
  const have: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < keys.length; i++) if (listed.has(bucketOf[i]!)) have[keys[i]!] = ts[i]!;
  const { rev, optionsVersion, buckets } = answer;
  return { have, digest: { rev, optionsVersion, buckets, listed: [...listed].sort((a, b) => a - b) } };
}

/**
 * A turn of the event loop where a request needs one to leave before a long
 * synchronous task holds the thread: Node's fetch writes it from a later
 * turn (setImmediate). A browser's network stack takes it at once, and a
 * timer there could wait a second in a hidden tab.
 */
function letRequestLeave(): Promise<void> {
  const { setImmediate } = globalThis as { setImmediate?: (callback: () => void) => unknown };
  return setImmediate ? new Promise((resolve) => setImmediate(resolve)) : Promise.resolve();
}

/**
 * The `have` map of a digest handshake and its `digest` field, from what
 * the replica holds; undefined when the server cannot use digests (an older
 * server, or a store whose options decide per value: handshake with the
 * whole map).
 */
export async function digestHave(ctx: SyncContext, held: HaveLists): Promise<{ have: Record<string, string>; digest: DigestBasis } | undefined> {
  const buckets = digestBucketCount(held.keys.length);
  const asked = request(ctx, (signal) => ctx.api.digests(ctx.storeId, { buckets, ...(ctx.prefix !== undefined && { prefix: ctx.prefix }) }, { signal }));
  // Awaited below, after the fold; a failure meanwhile is not unhandled.
  asked.catch(() => undefined);
  await letRequestLeave();
  const folded = foldHave(held, buckets);
  let res = await asked;
  // A server older than the store's digests in the answer requires the replica's.
  if (res.error?.status === 400 && res.error.errors?.some((e) => e.path === 'digests')) {
    res = await request(ctx, (signal) => ctx.api.digests(ctx.storeId, digestRequest(folded, ctx.prefix), { signal }));
  }
  if (res.error) {
    if (res.error.status === 404 || res.error.status === 405 || res.error.status === 409) return undefined;
    throw new ProblemError(res.error, 'digests');
  }
  const { differ, digests } = res.data;
  if (differ) return digestHandshake(folded, { ...res.data, differ });
  const theirs = digests === undefined ? undefined : decodeBase64(digests);
  if (theirs?.length !== 8 * buckets) throw new Error(`the digests answer carried no ${buckets} digests to compare`);
  return digestHandshake(folded, { ...res.data, differ: differingBuckets(folded.folder.words, theirs) });
}
