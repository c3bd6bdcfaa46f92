/**
 * A live subscriber as the tailer sees it. While its feed sends the backlog,
 * what the tailer pushes waits in a bounded mailbox; once the feed is live,
 * pushes go straight to the feed's `deliver`, which writes them to the
 * client in the same turn (no queue, no wake-up, no timer per feed).
 *
 * Bounded either way: a subscriber that falls `limit` events behind is ended
 * (it reconnects with Last-Event-ID and catches up from the database), so one
 * slow reader never grows memory or slows the others. Live, "behind" is what
 * the client has not taken off the socket; the feed counts that.
 */
import type { FrameBatch, LiveRow } from './frames.js';

export type EndReason = 'overflow' | 'store-deleted' | 'shutdown' | 'revoked' | 'lagged' | 'options-changed';

/**
 * The feed a subscriber belongs to, as the tailer and the hub call it: one
 * object with methods rather than a closure each, so an idle feed holds few
 * objects.
 */
export interface SubscriberOwner {
  /** once live: writes a tailer read to the client; `rows` are the ones this subscriber accepts (all of `batch`, or fewer) */
  deliver(rows: LiveRow[], batch: FrameBatch): void;
  /** once live: the shared heartbeat's tick */
  beat(now: number): void;
  /** called once when the subscriber ends (the feed then finishes or cuts the response) */
  ended(reason: EndReason): void;
}

export class Subscriber {
  private queue: LiveRow[] = [];
  /** frame bytes in `queue` */
  private queuedBytes = 0;
  /** pushes go straight to `owner.deliver` (set by goLive, cleared by end) */
  live = false;
  /** highest rev the tailer has passed while this subscriber was attached */
  passedRev = 0;
  ended: EndReason | undefined;
  /** id of the store token that opened this feed (admin and open mode: none), so revoking it ends the feed */
  tokenId: string | undefined;
  /** the store's options version the feed filters with; a notice of a newer one ends it */
  optionsVersion = 0;

  constructor(
    /** which keys this feed carries (request prefix and the store's filter) */
    readonly accepts: (key: string) => boolean,
    readonly limit: number,
    readonly owner?: SubscriberOwner,
    /** frame bytes this subscriber may have waiting (mailbox, or unsent on the socket once live) */
    readonly byteLimit = Number.POSITIVE_INFINITY,
  ) {}

  push(batch: FrameBatch, upTo: number): void {
    if (this.ended) return;
    const mine = batch.acceptedBy(this.accepts);
    if (this.live) {
      // passedRev first: a heartbeat written by `deliver` may already carry it.
      this.passedRev = upTo;
      if (mine.length > 0) this.owner!.deliver(mine, batch);
      return;
    }
    // Behind means `limit` rows (or `byteLimit` bytes) of earlier pushes still untaken. One
    // push larger than that (a big atomic write, a tailer page) onto an empty mailbox is not
    // falling behind; the bound is the limit plus one tailer page of shared frames.
    const behind = this.queue.length;
    const behindBytes = this.queuedBytes;
    for (const row of mine) {
      this.queue.push(row);
      this.queuedBytes += row.frame.length;
    }
    this.passedRev = upTo;
    if ((behind >= this.limit || behindBytes >= this.byteLimit) && this.queue.length > behind) {
      this.queue = [];
      this.queuedBytes = 0;
      this.end('overflow');
    }
  }

  /**
   * From now on pushes go to the owner's `deliver` as they come. Returns what
   * queued up before (the feed writes it first, so nothing is lost or reordered).
   */
  goLive(): LiveRow[] {
    if (!this.ended && this.owner) this.live = true;
    return this.take();
  }

  /** Takes everything queued. */
  take(): LiveRow[] {
    const rows = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    return rows;
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = reason;
    this.live = false;
    this.owner?.ended(reason);
  }
}
