/**
 * One tailer per store with subscribers in this process: when woken (NOTIFY
 * from any instance, a local commit, or the heartbeat tick) it reads the
 * change log after the last rev it has seen, once, and hands the frames to
 * every subscriber. Wake-ups during a read are coalesced into one more read.
 *
 * Paced by its own fan-out: handing a read to many subscribers costs a
 * socket write each, whatever the read holds, so after a fan-out that took
 * `t` the next read waits until `FANOUT_SHARE` of the time since has gone
 * to fanning out (waiting at most MAX_GAP_MS). Writes that commit meanwhile
 * go out together, in one write per socket. A store with few subscribers fans out
 * in microseconds and reads at once; one with thousands trades a few ms of
 * latency for far fewer writes, instead of falling behind. Only the timing
 * changes: every read still starts after the last rev handed out.
 */
import type { Db } from '../db/client.js';
import { readTail } from '../store/reads.js';
import { FrameBatch, rowFrame } from './frames.js';
import type { Subscriber } from './subscriber.js';

const PAGE = 1000;
/** at most this share of the tailer's time goes to fan-out while writes keep coming */
export const FANOUT_SHARE = 0.5;
/** longest a read waits for the previous fan-out's share (ms) */
export const MAX_GAP_MS = 25;

export class Tailer {
  readonly subscribers = new Set<Subscriber>();
  private reading = false;
  private again = false;
  /** highest rev a wake-up during the current read asked for (Infinity: unknown, read anyway) */
  private wanted = 0;
  /** performance.now() before which the next read waits (see FANOUT_SHARE) */
  private nextReadAt = 0;
  /** reads that handed rows out so far (coalescing shows as fewer fan-outs than commits) */
  fanouts = 0;

  constructor(
    private readonly db: Db,
    readonly storeId: string,
    /** every rev up to here has been handed to the subscribers */
    public lastRev: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /**
   * `rev`: the commit that caused the wake-up, when known. A local commit
   * wakes the tailer and its NOTIFY does again a moment later; a rev the
   * tailer has already handed out needs no second read.
   */
  wake(rev = Infinity): void {
    if (rev <= this.lastRev) return;
    this.wanted = Math.max(this.wanted, rev);
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    void this.drain().finally(() => {
      this.reading = false;
    });
  }

  private async drain(): Promise<void> {
    do {
      const gap = this.nextReadAt - performance.now();
      if (gap >= 1) await new Promise((resolve) => setTimeout(resolve, gap));
      this.again = false;
      this.wanted = 0;
      try {
        for (;;) {
          const { rows, purgedRev } = await readTail(this.db, this.storeId, this.lastRev, PAGE);
          if (rows.length === 0) break;
          this.fanouts++;
          if (purgedRev > this.lastRev) {
            // A purge ran past revs this tailer had not read (it lagged more than the
            // tombstone retention): a delete may be lost. End the feeds; they reconnect
            // with Last-Event-ID, are told to reset, and handshake again with `have`.
            for (const sub of this.subscribers) sub.end('lagged');
          }
          // One batch for all: live feeds write it to their sockets during this loop, so
          // wake-ups that arrive meanwhile gather into the next, larger read.
          const batch = new FrameBatch(rows.map(rowFrame));
          this.lastRev = rows[rows.length - 1]!.rev;
          // Timed: the next read waits in proportion (see FANOUT_SHARE).
          const started = performance.now();
          for (const sub of this.subscribers) sub.push(batch, this.lastRev);
          const ended = performance.now();
          this.nextReadAt = ended + Math.min(MAX_GAP_MS, ((ended - started) * (1 - FANOUT_SHARE)) / FANOUT_SHARE);
          if (rows.length < PAGE) break;
        }
      } catch (err) {
        // The database may be down; the next wake (heartbeat tick at the latest) retries.
        this.onError(err);
        return;
      }
    } while (this.again && this.subscribers.size > 0 && this.lastRev < this.wanted);
  }
}
