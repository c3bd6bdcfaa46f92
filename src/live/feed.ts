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
import { heartbeatFrame, joinFrames, readyFrame, resetFrame, retryFrame, revokedFrame, rowFrame, storeDeletedFrame, type FrameBatch, type LiveRow } from './frames.js';
import type { LiveHub } from './hub.js';
import type { EndReason } from './subscriber.js';

const BACKLOG_PAGE = 500;

/** Where a feed writes: the client's connection. */
export interface FeedSink {
  /** Queues frames for the client; a FrameBatch is the tailer's shared batch (encoded once for all). */
  write(data: string | FrameBatch): void;
  /** true while bytes written earlier wait for the client to take them */
  backlogged(): boolean;
  /** resolves once the client has taken what was written, or has gone */
  drained(): Promise<void>;
  /** `cb` runs once when the client goes away */
  onClose(cb: () => void): void;
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

/**
 * Runs the feed until the client leaves, the store goes, the server stops or
 * the subscriber overflows. The response ends when the returned promise
 * settles.
 */
export async function runFeed(db: Db, hub: LiveHub, req: FeedRequest, sink: FeedSink, onFrames?: (n: number) => void): Promise<FeedEnd> {
  const heads = await storeHeads(db, req.storeId);
  if (!heads) {
    sink.write(storeDeletedFrame(req.storeId));
    return 'store-deleted';
  }
  const start = req.since ?? heads.headRev;
  if (start < heads.purgedRev || start > heads.headRev) {
    sink.write(resetFrame(start < heads.purgedRev ? 'since-purged' : 'since-ahead', heads.headRev, heads.purgedRev));
    return 'reset';
  }

  const accepts = (key: string) => (!req.prefix || key.startsWith(req.prefix)) && req.includesKey(key);
  // Only a value filter makes the feed look at values; without one, frames pass untouched.
  const valueOk = req.includesValue ? valueCheck(req.includesValue) : undefined;
  const wantedValues = (rows: LiveRow[]) => (valueOk ? rows.filter(valueOk) : rows);
  const { subscriber } = hub.attach(req.storeId, accepts, heads.headRev);
  subscriber.tokenId = req.tokenId;
  let clientGone = false;
  let ended: () => void = () => {};
  const whenEnded = new Promise<void>((resolve) => (ended = resolve));
  subscriber.onEnd = (reason) => {
    if (reason === 'overflow') sink.terminate();
    ended();
  };
  sink.onClose(() => {
    clientGone = true;
    subscriber.end('shutdown');
  });
  try {
    if (req.stillAuthorized && !(await req.stillAuthorized())) subscriber.end('revoked');
    sink.write(retryFrame(1000));
    let pos = start;
    // Backlog, page by page, straight from the change log, at the pace the client reads.
    for (;;) {
      const rows = await readSince(db, req.storeId, { afterRev: pos, prefix: req.prefix, limit: BACKLOG_PAGE });
      if (rows.length > 0) {
        const wanted = wantedValues(rows.filter((r) => accepts(r.key)).map(rowFrame));
        if (wanted.length > 0) sink.write(joinFrames(wanted));
        onFrames?.(wanted.length);
        pos = rows[rows.length - 1]!.rev;
        if (sink.backlogged()) await sink.drained();
      }
      if (rows.length < BACKLOG_PAGE || subscriber.ended) break;
    }
    // A purge that ran during the backlog may have removed tombstones we had not sent yet.
    const after = await storeHeads(db, req.storeId);
    if (after && after.purgedRev > start) {
      sink.write(resetFrame('since-purged', after.headRev, after.purgedRev));
      return 'reset';
    }

    if (!subscriber.ended) {
      // Live: from here the tailer's pushes are written in the tailer's turn (see Subscriber).
      sink.write(readyFrame(Math.max(pos, subscriber.passedRev)));
      let lastWrite = Date.now();
      // Events written while the client had not yet taken earlier bytes off the socket.
      let behind = 0;
      const send = (rows: LiveRow[], batch?: FrameBatch) => {
        const fresh = rows.length > 0 && rows[0]!.rev <= pos ? rows.filter((r) => r.rev > pos) : rows;
        if (fresh.length === 0) return;
        pos = fresh[fresh.length - 1]!.rev;
        const out = wantedValues(fresh);
        if (out.length === 0) return; // the next heartbeat carries pos
        if (!sink.backlogged()) behind = 0;
        else if (behind >= subscriber.limit) return subscriber.end('overflow');
        // Rows are a subset of the batch: the same count means every frame of it.
        sink.write(batch && out.length === batch.rows.length ? batch : joinFrames(out));
        if (sink.backlogged()) behind += out.length;
        onFrames?.(out.length);
        lastWrite = Date.now();
      };
      send(subscriber.goLive(send));
      subscriber.onBeat = (now) => {
        if (now - lastWrite < hub.heartbeatMs) return;
        // Nothing waits in a live mailbox: every rev up to passedRev is written or filtered out.
        pos = Math.max(pos, subscriber.passedRev);
        sink.write(heartbeatFrame(pos));
        lastWrite = now;
      };
      await whenEnded;
    }
    if (clientGone) return 'client-gone';
    // Whatever was queued before the end (during the backlog) still goes out, in order.
    const rest = wantedValues(subscriber.take().filter((r) => r.rev > pos));
    // A revoked token gets nothing more, not even what was already queued.
    if (rest.length > 0 && subscriber.ended !== 'overflow' && subscriber.ended !== 'revoked') sink.write(joinFrames(rest));
    if (subscriber.ended === 'store-deleted') sink.write(storeDeletedFrame(req.storeId));
    if (subscriber.ended === 'revoked') sink.write(revokedFrame(req.storeId));
    return subscriber.ended ?? 'shutdown';
  } finally {
    hub.detach(req.storeId, subscriber);
  }
}
