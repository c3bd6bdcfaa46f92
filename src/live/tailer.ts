/**
 * One tailer per store with subscribers in this process: when woken (NOTIFY
 * from any instance, a local commit, or the heartbeat tick) it reads the
 * change log after the last rev it has seen, once, and hands the frames to
 * every subscriber. Wake-ups during a read are coalesced into one more read.
 */
import type { Db } from '../db/client.js';
import { readTail, type EntryRow } from '../store/reads.js';
import { FrameBatch, rowFrame } from './frames.js';
import type { Subscriber } from './subscriber.js';

/** Rows per read of the change log; a read also stops at `pageBytes`. */
const TAIL_PAGE_ROWS = 1000;

export class Tailer {
  readonly subscribers = new Set<Subscriber>();
  private reading = false;
  private again = false;
  /** highest rev a wake-up during the current read asked for (Infinity: unknown, read anyway) */
  private wanted = 0;

  constructor(
    private readonly db: Db,
    readonly storeId: string,
    /** every rev up to here has been handed to the subscribers */
    public lastRev: number,
    private readonly onError: (err: unknown) => void,
    /** bytes of values one read holds (a larger single value is read alone) */
    private readonly pageBytes = Number.MAX_SAFE_INTEGER,
    /** rows handed to the subscribers, as read (metrics) */
    private readonly onRows?: (rows: EntryRow[]) => void,
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
      this.again = false;
      this.wanted = 0;
      try {
        for (;;) {
          const { rows, purgedRev, more } = await readTail(this.db, this.storeId, this.lastRev, TAIL_PAGE_ROWS, this.pageBytes);
          if (rows.length === 0) break;
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
          for (const sub of this.subscribers) sub.push(batch, this.lastRev);
          this.onRows?.(rows);
          if (!more) break;
        }
      } catch (err) {
        // The database may be down; the next wake (heartbeat tick at the latest) retries.
        this.onError(err);
        return;
      }
    } while (this.again && this.subscribers.size > 0 && this.lastRev < this.wanted);
  }
}
