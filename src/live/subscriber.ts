/**
 * A live subscriber's mailbox: frames the tailer pushed and not yet written.
 * Bounded: a subscriber that falls `limit` events behind is ended (it
 * reconnects with Last-Event-ID and catches up from the database), so one
 * slow reader never grows memory or slows the others.
 */
import type { LiveRow } from './frames.js';

export type EndReason = 'overflow' | 'store-deleted' | 'shutdown' | 'revoked' | 'lagged';

export class Subscriber {
  private queue: LiveRow[] = [];
  /** highest rev the tailer has passed while this subscriber was attached */
  passedRev = 0;
  ended: EndReason | undefined;
  /** id of the store token that opened this feed (admin and open mode: none), so revoking it ends the feed */
  tokenId: string | undefined;
  /** called once when the subscriber ends (the feed cuts the connection on overflow) */
  onEnd: ((reason: EndReason) => void) | undefined;
  private notify: (() => void) | undefined;

  constructor(
    /** which keys this feed carries (request prefix and the store's filter) */
    readonly accepts: (key: string) => boolean,
    private readonly limit: number,
  ) {}

  push(rows: LiveRow[], upTo: number): void {
    if (this.ended) return;
    // Behind means `limit` rows of earlier pushes still untaken. One push larger than the
    // limit (a big atomic write, a tailer page) onto an empty mailbox is not falling behind;
    // the bound is limit + one tailer page of shared frames.
    const behind = this.queue.length;
    for (const row of rows) {
      if (!this.accepts(row.key)) continue;
      this.queue.push(row);
    }
    this.passedRev = upTo;
    if (behind >= this.limit && this.queue.length > behind) {
      this.queue = [];
      this.end('overflow');
    }
    this.wakeUp();
  }

  end(reason: EndReason): void {
    if (!this.ended) {
      this.ended = reason;
      this.onEnd?.(reason);
    }
    this.wakeUp();
  }

  /** Takes everything queued. */
  take(): LiveRow[] {
    const rows = this.queue;
    this.queue = [];
    return rows;
  }

  /** Resolves when something was pushed, the subscriber ended, or `ms` passed. */
  wait(ms: number): Promise<void> {
    if (this.queue.length > 0 || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.notify = undefined;
        resolve();
      }
      this.notify = done;
    });
  }

  private wakeUp(): void {
    this.notify?.();
  }
}
