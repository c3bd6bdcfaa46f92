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
import type { Db } from '../db/client.js';
import { readFeedPage, type StoreHeads } from '../store/feed-reads.js';
import {
  heartbeatFrame,
  joinFrames,
  readyFrame,
  resetFrame,
  retryFrame,
  revokedFrame,
  rowFrame,
  storeDeletedFrame,
  type FrameBatch,
  type LiveRow,
} from './frames.js';
import type { LiveHub } from './hub.js';
import type { EndReason, Subscriber, SubscriberOwner } from './subscriber.js';

/** Rows per backlog page; a page also stops at the hub's page bytes (a larger single value alone). */
const BACKLOG_PAGE_ROWS = 500;

/** Where a feed writes: the client's connection. */
export interface FeedSink {
  /**
   * Queues frames for the client. A FrameBatch is the tailer's shared batch and
   * LiveRows are shared rows of it: each is encoded once for all subscribers,
   * so a large value is not copied per feed.
   */
  write(data: string | FrameBatch | readonly LiveRow[]): void;
  /** true while bytes written earlier wait for the client to take them */
  backlogged(): boolean;
  /** bytes written and not yet taken by the client (as far as the server holds them) */
  pendingBytes(): number;
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
  /**
   * the version of the store's options this feed filters with, read with
   * them: if the hub has heard of a newer one by the time the feed is
   * attached, the options changed in between, and it ends with `reset` at once
   */
  optionsVersion: number;
  /** the store's heads, read with its row before the feed opens (a missing store is a 404 before any stream) */
  heads: StoreHeads;
}

export type FeedEnd = EndReason | 'reset' | 'client-gone';

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
  const { heads } = req;
  const start = req.since ?? heads.headRev;
  if (start < heads.purgedRev || start > heads.headRev) {
    sink.write(resetFrame(start < heads.purgedRev ? 'since-purged' : 'since-ahead', heads.headRev, heads.purgedRev));
    return 'reset';
  }

  const { prefix, includesKey } = req;
  // Without a prefix the store's filter is the whole test (no closure per feed).
  const accepts = prefix ? (key: string) => key.startsWith(prefix) && includesKey(key) : includesKey;
  const feed = new LiveFeed(sink, hub.heartbeatMs, start, req.includesValue ? valueCheck(req.includesValue) : undefined, onFrames);
  const subscriber = (feed.subscriber = hub.attach(req.storeId, accepts, heads.headRev, feed));
  subscriber.tokenId = req.tokenId;
  subscriber.optionsVersion = req.optionsVersion;
  sink.onClose(() => feed.clientLeft());
  try {
    if (hub.optionsVersion(req.storeId) > req.optionsVersion) subscriber.end('options-changed');
    if (req.stillAuthorized && !(await req.stillAuthorized())) subscriber.end('revoked');
    sink.write(retryFrame(1000));
    // Backlog, page by page, straight from the change log, at the pace the client reads. Each
    // page carries the store's purged rev from its own snapshot: a purge that ran since the feed
    // read the heads may have removed tombstones it had not sent yet.
    for (;;) {
      const step = await sendBacklogPage(db, req, sink, feed, accepts, hub.pageBytes, start, onFrames);
      if (step === 'reset') return 'reset';
      if (step === 'store-deleted') {
        subscriber.end('store-deleted');
        break;
      }
      // Waited for here, not while the page's rows and frames are still in scope.
      if (sink.backlogged()) await sink.drained();
      if (step === 'done' || subscriber.ended) break;
    }

    if (!subscriber.ended) {
      // Live: from here the tailer's pushes are written in the tailer's turn (LiveFeed.deliver).
      sink.write(readyFrame(Math.max(feed.pos, subscriber.passedRev), hub.heartbeatMs));
      feed.lastWrite = Date.now();
      feed.deliver(subscriber.goLive());
      await feed.whenEnded;
    }
    if (feed.clientGone) return 'client-gone';
    // Whatever was queued before the end (during the backlog) still goes out, in order.
    const rest = feed.wantedValues(subscriber.take().filter((r) => r.rev > feed.pos));
    // A revoked token gets nothing more, not even what was already queued; after an options
    // change the client handshakes again anyway, and what was queued passed the old filter.
    const flushRest = subscriber.ended !== 'overflow' && subscriber.ended !== 'revoked' && subscriber.ended !== 'options-changed';
    if (rest.length > 0 && flushRest) sink.write(joinFrames(rest));
    if (subscriber.ended === 'store-deleted') sink.write(storeDeletedFrame(req.storeId));
    if (subscriber.ended === 'revoked') sink.write(revokedFrame(req.storeId));
    // The feed's filter is the old one, and keys the new options include were never sent
    // (a `since` cannot find them): the client handshakes again with `have` on reset.
    if (subscriber.ended === 'options-changed') sink.write(resetFrame('options-changed', feed.pos, heads.purgedRev));
    return subscriber.ended ?? 'shutdown';
  } finally {
    hub.detach(req.storeId, subscriber);
  }
}

/**
 * Reads and writes one backlog page; its rows and frames are garbage once it
 * returns, so a client that stops reading holds at most the page on its socket.
 */
async function sendBacklogPage(
  db: Db,
  req: FeedRequest,
  sink: FeedSink,
  feed: LiveFeed,
  accepts: (key: string) => boolean,
  pageBytes: number,
  start: number,
  onFrames: ((n: number) => void) | undefined,
): Promise<'more' | 'done' | 'reset' | 'store-deleted'> {
  const page = await readFeedPage(db, req.storeId, { afterRev: feed.pos, prefix: req.prefix, limit: BACKLOG_PAGE_ROWS, maxBytes: pageBytes });
  // The store went while the feed opened (its deletion ends attached feeds too).
  if (!page.heads) return 'store-deleted';
  if (page.heads.purgedRev > start) {
    sink.write(resetFrame('since-purged', page.heads.headRev, page.heads.purgedRev));
    return 'reset';
  }
  const { rows } = page;
  if (rows.length > 0) {
    const wanted = feed.wantedValues(rows.filter((r) => accepts(r.key)).map(rowFrame));
    if (wanted.length > 0) sink.write(joinFrames(wanted));
    onFrames?.(wanted.length);
    feed.pos = rows[rows.length - 1]!.rev;
  }
  return page.more ? 'more' : 'done';
}

/**
 * A feed's state once it is open: where it is in the change log, when it
 * last wrote, how far the client is behind. The tailer and the heartbeat
 * call its methods (see SubscriberOwner); an idle feed is this object, its
 * subscriber and its sink.
 */
class LiveFeed implements SubscriberOwner {
  subscriber: Subscriber | undefined;
  /** every rev up to here is written to the client or filtered out */
  pos: number;
  lastWrite = 0;
  /** events written while the client had not yet taken earlier bytes off the socket */
  private behind = 0;
  clientGone = false;
  readonly whenEnded: Promise<void>;
  private resolveEnded!: () => void;

  constructor(
    private readonly sink: FeedSink,
    private readonly heartbeatMs: number,
    start: number,
    /** the value filter; only a value filter makes the feed look at values */
    private readonly valueOk: ((row: LiveRow) => boolean) | undefined,
    private readonly onFrames: ((n: number) => void) | undefined,
  ) {
    this.pos = start;
    this.whenEnded = new Promise<void>((resolve) => (this.resolveEnded = resolve));
  }

  wantedValues(rows: LiveRow[]): LiveRow[] {
    return this.valueOk ? rows.filter(this.valueOk) : rows;
  }

  deliver(rows: LiveRow[], batch?: FrameBatch): void {
    const fresh = rows.length > 0 && rows[0]!.rev <= this.pos ? rows.filter((r) => r.rev > this.pos) : rows;
    if (fresh.length === 0) return;
    this.pos = fresh[fresh.length - 1]!.rev;
    const out = this.wantedValues(fresh);
    if (out.length === 0) return; // the next heartbeat carries pos
    const { sink, subscriber } = this;
    if (!sink.backlogged()) this.behind = 0;
    else if (this.behind >= subscriber!.limit || sink.pendingBytes() >= subscriber!.byteLimit) {
      subscriber!.end('overflow');
      return;
    }
    // Rows are a subset of the batch: the same count means every frame of it.
    sink.write(batch && out.length === batch.rows.length ? batch : out);
    if (sink.backlogged()) this.behind += out.length;
    this.onFrames?.(out.length);
    this.lastWrite = Date.now();
  }

  beat(now: number): void {
    if (now - this.lastWrite < this.heartbeatMs) return;
    // Nothing waits in a live mailbox: every rev up to passedRev is written or filtered out.
    this.pos = Math.max(this.pos, this.subscriber!.passedRev);
    this.sink.write(heartbeatFrame(this.pos));
    this.lastWrite = now;
  }

  ended(reason: EndReason): void {
    if (reason === 'overflow') this.sink.terminate();
    this.resolveEnded();
  }

  clientLeft(): void {
    this.clientGone = true;
    this.subscriber?.end('shutdown');
  }
}
