/**
 * The live fan-out of this process: one tailer per store with subscribers,
 * woken by NOTIFY (commits on any instance), by local commits, and by a
 * periodic tick that also covers a NOTIFY lost while the listener reconnected.
 * One heartbeat timer serves every live feed (a timer per feed costs memory
 * per idle connection).
 */
import type { Database } from '../db/client.js';
import { NOTIFY_CHANNEL } from '../store/stores.js';
import { Subscriber, type EndReason, type SubscriberOwner } from './subscriber.js';
import { Tailer } from './tailer.js';

export interface HubStats {
  subscribers: number;
  tailers: number;
}

export class LiveHub {
  private readonly tailers = new Map<string, Tailer>();
  private unlisten: (() => Promise<void>) | undefined;
  private tick: NodeJS.Timeout | undefined;
  private beat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly database: Database,
    private readonly opts: {
      queueLimit: number;
      /** bytes of frames a subscriber may have waiting before it is cut */
      queueBytes: number;
      /** bytes of values one read of the change log holds (a larger single value alone) */
      pageBytes: number;
      tickMs: number;
      /** a live feed that wrote nothing for this long gets a heartbeat */
      heartbeatMs: number;
      onError: (err: unknown) => void;
    },
  ) {}

  get heartbeatMs(): number {
    return this.opts.heartbeatMs;
  }

  get pageBytes(): number {
    return this.opts.pageBytes;
  }

  async start(): Promise<void> {
    this.unlisten = await this.database.listen(NOTIFY_CHANNEL, (payload) => this.onNotify(payload));
    this.tick = setInterval(() => this.wakeAll(), this.opts.tickMs);
    this.tick.unref();
    // Quarter steps: a quiet feed hears a beat between 1 and 1.25 heartbeat intervals after its last write.
    this.beat = setInterval(() => this.beatAll(), Math.max(10, Math.floor(this.opts.heartbeatMs / 4)));
    this.beat.unref();
  }

  /** Attaches a subscriber of `owner` to the store's tailer; `headRev` starts a new tailer there. */
  attach(storeId: string, accepts: (key: string) => boolean, headRev: number, owner?: SubscriberOwner): { subscriber: Subscriber; tailer: Tailer } {
    let tailer = this.tailers.get(storeId);
    if (!tailer) {
      tailer = new Tailer(this.database.db, storeId, headRev, this.opts.onError, this.opts.pageBytes);
      this.tailers.set(storeId, tailer);
    }
    const subscriber = new Subscriber(accepts, this.opts.queueLimit, owner, this.opts.queueBytes);
    if (this.closed) subscriber.end('shutdown');
    subscriber.passedRev = tailer.lastRev;
    tailer.subscribers.add(subscriber);
    return { subscriber, tailer };
  }

  detach(storeId: string, subscriber: Subscriber): void {
    const tailer = this.tailers.get(storeId);
    if (!tailer) return;
    tailer.subscribers.delete(subscriber);
    if (tailer.subscribers.size === 0) this.tailers.delete(storeId);
  }

  /** A local commit: wake the store's tailer without waiting for NOTIFY. */
  committed(storeId: string, headRev?: number): void {
    this.tailers.get(storeId)?.wake(headRev);
  }

  storeDeleted(storeId: string): void {
    this.endStore(storeId, 'store-deleted');
  }

  endStore(storeId: string, reason: EndReason, match: (s: Subscriber) => boolean = () => true): void {
    const tailer = this.tailers.get(storeId);
    if (!tailer) return;
    for (const sub of tailer.subscribers) if (match(sub)) sub.end(reason);
  }

  stats(): HubStats {
    let subscribers = 0;
    for (const t of this.tailers.values()) subscribers += t.subscribers.size;
    return { subscribers, tailers: this.tailers.size };
  }

  /** Ends every feed (they close cleanly; clients reconnect elsewhere) and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.tick) clearInterval(this.tick);
    if (this.beat) clearInterval(this.beat);
    for (const tailer of this.tailers.values()) for (const sub of tailer.subscribers) sub.end('shutdown');
    await this.unlisten?.().catch(() => {});
  }

  private wakeAll(): void {
    for (const tailer of this.tailers.values()) tailer.wake();
  }

  private beatAll(): void {
    const now = Date.now();
    for (const tailer of this.tailers.values()) for (const sub of tailer.subscribers) if (sub.live) sub.owner!.beat(now);
  }

  private onNotify(payload: string): void {
    // `<storeId>:revoked:<tokenId>`: a token revoked on any instance ends the feeds it opened here.
    const revoked = /^([^:]+):revoked:(.+)$/.exec(payload);
    if (revoked) return this.endStore(revoked[1]!, 'revoked', (s) => s.tokenId === revoked[2]);
    const sep = payload.lastIndexOf(':');
    const storeId = payload.slice(0, sep);
    if (payload.slice(sep + 1) === 'deleted') this.storeDeleted(storeId);
    else this.committed(storeId, Number(payload.slice(sep + 1)) || undefined);
  }
}
