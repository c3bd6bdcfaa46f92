/**
 * One live feed, independent of the HTTP framework: backlog from the database
 * after `since` (compacted: the change log holds each key at its latest rev),
 * then `ready`, then the frames the store's tailer pushes, with heartbeats.
 *
 * Gap-free by construction: the subscriber is attached to the tailer before
 * the backlog is read, so every commit lands in the backlog, in the mailbox,
 * or both; a frame is written only when its rev is above the last one
 * written, so order is strictly increasing and duplicates are dropped.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { stores } from '../db/schema.js';
import { readSince } from '../store/reads.js';
import { heartbeatFrame, readyFrame, resetFrame, retryFrame, revokedFrame, rowFrame, storeDeletedFrame, type LiveRow } from './frames.js';
import type { LiveHub } from './hub.js';
import type { EndReason } from './subscriber.js';

const BACKLOG_PAGE = 500;

export interface FeedSink {
  write(text: string): Promise<void>;
  /** resolves the feed's end when the client goes away */
  onAbort(cb: () => void): void;
  /**
   * Cuts the connection at once. Used when a subscriber overflows: it is not
   * reading, so a polite end would sit behind the unread bytes forever.
   */
  terminate(): void;
}

export interface FeedRequest {
  storeId: string;
  since: number | undefined;
  prefix: string | undefined;
  /** the store's key filter (options.filter); the walk does not apply to live feeds */
  includesKey: (key: string) => boolean;
  /**
   * the store's value-level filter (a library `filter(key, value)`), applied
   * to puts; `value` is undefined for bytes. Deletes pass on the key alone.
   */
  includesValue?: (key: string, value: unknown) => boolean;
  heartbeatMs: number;
  /** the store token that opened the feed, if any: revoking it ends the feed */
  tokenId?: string;
  /** checked once the feed is attached, so a revocation racing the open is not missed */
  stillAuthorized?: () => Promise<boolean>;
}

export type FeedEnd = EndReason | 'reset' | 'client-gone';

export async function storeHeads(db: Db, storeId: string): Promise<{ headRev: number; purgedRev: number } | undefined> {
  const [row] = await db.select({ headRev: stores.headRev, purgedRev: stores.purgedRev }).from(stores).where(eq(stores.id, storeId));
  return row;
}

// Verdicts of each value filter per live write: the tailer hands one LiveRow
// to every subscriber of a store, so its value is parsed once, not per feed.
const verdicts = new WeakMap<(key: string, value: unknown) => boolean, WeakMap<LiveRow, boolean>>();

function valueCheck(includesValue: (key: string, value: unknown) => boolean): (row: LiveRow) => boolean {
  let memo = verdicts.get(includesValue);
  if (!memo) verdicts.set(includesValue, (memo = new WeakMap()));
  const known = memo;
  return (row) => {
    if (row.deleted) return true;
    let ok = known.get(row);
    if (ok === undefined) {
      ok = includesValue(row.key, row.json === null ? undefined : JSON.parse(row.json));
      known.set(row, ok);
    }
    return ok;
  };
}

/** Runs the feed until the client leaves, the store goes, the server stops or the subscriber overflows. */
export async function runFeed(db: Db, hub: LiveHub, req: FeedRequest, sink: FeedSink, onFrames?: (n: number) => void): Promise<FeedEnd> {
  const heads = await storeHeads(db, req.storeId);
  if (!heads) {
    await sink.write(storeDeletedFrame(req.storeId));
    return 'store-deleted';
  }
  const start = req.since ?? heads.headRev;
  if (start < heads.purgedRev || start > heads.headRev) {
    await sink.write(resetFrame(start < heads.purgedRev ? 'since-purged' : 'since-ahead', heads.headRev, heads.purgedRev));
    return 'reset';
  }

  const accepts = (key: string) => (!req.prefix || key.startsWith(req.prefix)) && req.includesKey(key);
  // Only a value filter makes the feed look at values; without one, frames pass untouched.
  const valueOk = req.includesValue ? valueCheck(req.includesValue) : undefined;
  const wantedValues = (rows: LiveRow[]) => (valueOk ? rows.filter(valueOk) : rows);
  const { subscriber } = hub.attach(req.storeId, accepts, heads.headRev);
  subscriber.tokenId = req.tokenId;
  let clientGone = false;
  subscriber.onEnd = (reason) => {
    if (reason === 'overflow') sink.terminate();
  };
  sink.onAbort(() => {
    clientGone = true;
    subscriber.end('shutdown');
  });
  try {
    if (req.stillAuthorized && !(await req.stillAuthorized())) subscriber.end('revoked');
    await sink.write(retryFrame(1000));
    let pos = start;
    // Backlog, page by page, straight from the change log.
    for (;;) {
      const rows = await readSince(db, req.storeId, { afterRev: pos, prefix: req.prefix, limit: BACKLOG_PAGE });
      if (rows.length > 0) {
        const wanted = wantedValues(rows.filter((r) => accepts(r.key)).map(rowFrame));
        if (wanted.length > 0) await sink.write(wanted.map((r) => r.frame).join(''));
        onFrames?.(wanted.length);
        pos = rows[rows.length - 1]!.rev;
      }
      if (rows.length < BACKLOG_PAGE || subscriber.ended) break;
    }
    // A purge that ran during the backlog may have removed tombstones we had not sent yet.
    const after = await storeHeads(db, req.storeId);
    if (after && after.purgedRev > start) {
      await sink.write(resetFrame('since-purged', after.headRev, after.purgedRev));
      return 'reset';
    }
    if (!subscriber.ended) await sink.write(readyFrame(Math.max(pos, subscriber.passedRev)));

    let lastWrite = Date.now();
    while (!subscriber.ended) {
      const taken = subscriber.take().filter((r) => r.rev > pos);
      if (taken.length > 0) {
        pos = taken[taken.length - 1]!.rev;
        const rows = wantedValues(taken);
        if (rows.length === 0) continue; // the next heartbeat carries pos
        await sink.write(rows.map((r) => r.frame).join(''));
        onFrames?.(rows.length);
        lastWrite = Date.now();
        continue;
      }
      if (Date.now() - lastWrite >= req.heartbeatMs) {
        // Only now, with the mailbox empty, is every rev up to passedRev accounted for.
        pos = Math.max(pos, subscriber.passedRev);
        await sink.write(heartbeatFrame(pos));
        lastWrite = Date.now();
      }
      await subscriber.wait(Math.max(1, req.heartbeatMs - (Date.now() - lastWrite)));
    }
    if (clientGone) return 'client-gone';
    // Whatever was queued before the end still goes out, in order.
    const rest = wantedValues(subscriber.take().filter((r) => r.rev > pos));
    // A revoked token gets nothing more, not even what was already queued.
    if (rest.length > 0 && subscriber.ended !== 'overflow' && subscriber.ended !== 'revoked') await sink.write(rest.map((r) => r.frame).join(''));
    if (subscriber.ended === 'store-deleted') await sink.write(storeDeletedFrame(req.storeId));
    if (subscriber.ended === 'revoked') await sink.write(revokedFrame(req.storeId));
    return subscriber.ended ?? 'shutdown';
  } finally {
    hub.detach(req.storeId, subscriber);
  }
}
