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
import { heartbeatFrame, readyFrame, resetFrame, retryFrame, rowFrame, storeDeletedFrame } from './frames.js';
import type { LiveHub } from './hub.js';
import type { EndReason } from './subscriber.js';

const BACKLOG_PAGE = 500;

export interface FeedSink {
  write(text: string): Promise<void>;
  /** resolves the feed's end when the client goes away */
  onAbort(cb: () => void): void;
}

export interface FeedRequest {
  storeId: string;
  since: number | undefined;
  prefix: string | undefined;
  /** the store's key filter (options.filter); the walk does not apply to live feeds */
  includesKey: (key: string) => boolean;
  heartbeatMs: number;
}

export type FeedEnd = EndReason | 'reset' | 'client-gone';

export async function storeHeads(db: Db, storeId: string): Promise<{ headRev: number; purgedRev: number } | undefined> {
  const [row] = await db.select({ headRev: stores.headRev, purgedRev: stores.purgedRev }).from(stores).where(eq(stores.id, storeId));
  return row;
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
  const { subscriber } = hub.attach(req.storeId, accepts, heads.headRev);
  let clientGone = false;
  sink.onAbort(() => {
    clientGone = true;
    subscriber.end('shutdown');
  });
  try {
    await sink.write(retryFrame(1000));
    let pos = start;
    // Backlog, page by page, straight from the change log.
    for (;;) {
      const rows = await readSince(db, req.storeId, { afterRev: pos, prefix: req.prefix, limit: BACKLOG_PAGE });
      if (rows.length > 0) {
        const wanted = rows.filter((r) => accepts(r.key));
        if (wanted.length > 0) await sink.write(wanted.map((r) => rowFrame(r).frame).join(''));
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
      const rows = subscriber.take().filter((r) => r.rev > pos);
      if (rows.length > 0) {
        pos = rows[rows.length - 1]!.rev;
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
    const rest = subscriber.take().filter((r) => r.rev > pos);
    if (rest.length > 0 && subscriber.ended !== 'overflow') await sink.write(rest.map((r) => r.frame).join(''));
    if (subscriber.ended === 'store-deleted') await sink.write(storeDeletedFrame(req.storeId));
    return subscriber.ended ?? 'shutdown';
  } finally {
    hub.detach(req.storeId, subscriber);
  }
}
