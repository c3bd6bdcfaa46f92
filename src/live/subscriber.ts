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

export type EndReason = 'overflow' | 'store-deleted' | 'shutdown' | 'revoked' | 'lagged';

/** Writes a tailer read to the client: `rows` are the ones this subscriber accepts (all of `batch`, or fewer). */
export type Deliver = (rows: LiveRow[], batch: FrameBatch) => void;

export class Subscriber {
  private queue: LiveRow[] = [];
  private deliver: Deliver | undefined;
  /** highest rev the tailer has passed while this subscriber was attached */
  passedRev = 0;
  ended: EndReason | undefined;
  /** id of the store token that opened this feed (admin and open mode: none), so revoking it ends the feed */
  tokenId: string | undefined;
  /** the shared heartbeat calls this on every tick once the feed is live */
  onBeat: ((now: number) => void) | undefined;
  /** called once when the subscriber ends (the feed then finishes or cuts the response) */
  onEnd: ((reason: EndReason) => void) | undefined;

  constructor(
    /** which keys this feed carries (request prefix and the store's filter) */
    readonly accepts: (key: string) => boolean,
    readonly limit: number,
  ) {}

  push(batch: FrameBatch, upTo: number): void {
    if (this.ended) return;
    const { rows } = batch;
    let mine = rows;
    for (let i = 0; i < rows.length; i++) {
      if (this.accepts(rows[i]!.key)) continue;
      // First refused key: copy what this feed carries (most feeds take every row, and skip this).
      mine = rows.slice(0, i);
      for (let j = i + 1; j < rows.length; j++) if (this.accepts(rows[j]!.key)) mine.push(rows[j]!);
      break;
    }
    if (this.deliver) {
      // passedRev first: a heartbeat written by `deliver` may already carry it.
      this.passedRev = upTo;
      if (mine.length > 0) this.deliver(mine, batch);
      return;
    }
    // Behind means `limit` rows of earlier pushes still untaken. One push larger than the
    // limit (a big atomic write, a tailer page) onto an empty mailbox is not falling behind;
    // the bound is limit + one tailer page of shared frames.
    const behind = this.queue.length;
    for (const row of mine) this.queue.push(row);
    this.passedRev = upTo;
    if (behind >= this.limit && this.queue.length > behind) {
      this.queue = [];
      this.end('overflow');
    }
  }

  /**
   * From now on pushes go to `deliver` as they come. Returns what queued up
   * before (the feed writes it first, so nothing is lost or reordered).
   */
  goLive(deliver: Deliver): LiveRow[] {
    this.deliver = deliver;
    return this.take();
  }

  /** Takes everything queued. */
  take(): LiveRow[] {
    const rows = this.queue;
    this.queue = [];
    return rows;
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = reason;
    this.deliver = undefined;
    this.onBeat = undefined;
    this.onEnd?.(reason);
  }
}
