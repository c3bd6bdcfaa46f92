/**
 * The live fan-out of this process: one tailer per store with subscribers,
 * woken by NOTIFY (commits on any instance), by local commits, and by a
 * periodic tick that also covers a NOTIFY lost while the listener reconnected.
 * It also sends and acts on the other cross-instance notices (db/notices.ts).
 * One heartbeat timer serves every live feed (a timer per feed costs memory
 * per idle connection).
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client.js';
import { NOTICE_CHANNEL, NOTIFY_SQL, decodeNotice, encodeNotice, type Notice, type NoticeKind } from '../db/notices.js';
import type { EntryRow } from '../store/reads.js';
import { Subscriber, type EndReason, type SubscriberOwner } from './subscriber.js';
import { Tailer } from './tailer.js';

export interface HubStats {
  subscribers: number;
  tailers: number;
}

/** What the hub reports to the metrics (all optional). */
export interface HubObserver {
  notice?(kind: NoticeKind): void;
  /** rows a tailer read and handed to its feeds */
  delivered?(rows: EntryRow[]): void;
  tailerError?(err: unknown): void;
  /** a notice could not be sent (the database is unreachable); the tick covers lost commit notices */
  notifyError?(err: unknown): void;
}

export class LiveHub {
  /** this instance's name in the notices it sends */
  readonly instance = randomUUID();
  private readonly tailers = new Map<string, Tailer>();
  private unlisten: (() => Promise<void>) | undefined;
  private tick: NodeJS.Timeout | undefined;
  private beat: NodeJS.Timeout | undefined;
  private closed = false;
  /** commit notices to send at the end of this turn of the event loop: store -> head rev */
  private pendingCommits = new Map<string, number>();
  private flushing = false;
  /**
   * The newest options version heard per store. Kept for the life of the
   * process (an entry per store whose options ever changed, a rare admin
   * act): forgetting one while a feed of the store is opening would hide a
   * change from it.
   */
  private readonly optionsVersions = new Map<string, number>();
  /** when this instance last heard its own ping (0: never) */
  private lastPing = 0;

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
      /** another instance changed the store's options (drop what was compiled from them) */
      onOptionsChanged?: (storeId: string) => void;
      observer?: HubObserver;
    },
  ) {}

  get heartbeatMs(): number {
    return this.opts.heartbeatMs;
  }

  /** True while this instance's LISTEN connection hears notices: its own ping came back within three ticks. */
  listening(now = Date.now()): boolean {
    return now - this.lastPing <= this.opts.tickMs * 3;
  }

  get pageBytes(): number {
    return this.opts.pageBytes;
  }

  async start(): Promise<void> {
    this.unlisten = await this.database.listen(NOTICE_CHANNEL, (payload) => this.onNotify(payload));
    this.tick = setInterval(() => {
      this.wakeAll();
      this.ping();
    }, this.opts.tickMs);
    this.tick.unref();
    // Quarter steps: a quiet feed hears a beat between 1 and 1.25 heartbeat intervals after its last write.
    this.beat = setInterval(() => this.beatAll(), Math.max(10, Math.floor(this.opts.heartbeatMs / 4)));
    this.beat.unref();
    this.ping();
  }
  /** Attaches a subscriber of `owner` to the store's tailer; `headRev` starts a new tailer there. */
  attach(storeId: string, accepts: (key: string) => boolean, headRev: number, owner: SubscriberOwner): Subscriber {
    let tailer = this.tailers.get(storeId);
    if (!tailer) {
      tailer = new Tailer(
        this.database.db,
        storeId,
        headRev,
        (err) => {
          this.opts.observer?.tailerError?.(err);
          this.opts.onError(err);
        },
        this.opts.pageBytes,
        this.opts.observer?.delivered,
      );
      this.tailers.set(storeId, tailer);
    }
    const subscriber = new Subscriber(accepts, this.opts.queueLimit, owner, this.opts.queueBytes);
    if (this.closed) subscriber.end('shutdown');
    subscriber.passedRev = tailer.lastRev;
    tailer.subscribers.add(subscriber);
    return subscriber;
  }

  detach(storeId: string, subscriber: Subscriber): void {
    const tailer = this.tailers.get(storeId);
    if (!tailer) return;
    tailer.subscribers.delete(subscriber);
    if (tailer.subscribers.size === 0) this.tailers.delete(storeId);
  }

  /**
   * A local commit: wake the store's tailer without waiting for NOTIFY, and
   * tell the other instances. Their notice is sent after the commit, in a
   * statement of its own that names no table (on a sharded database it runs
   * on the coordinator); commits of one turn of the event loop share it. A
   * notice lost to a crash right after the commit is covered by the tick.
   */
  committed(storeId: string, headRev: number): void {
    this.tailers.get(storeId)?.wake(headRev);
    if (!this.othersListen()) return;
    this.pendingCommits.set(storeId, Math.max(headRev, this.pendingCommits.get(storeId) ?? 0));
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => void this.flushCommits());
  }

  /**
   * Whether a notice may reach another instance: always on PostgreSQL. An
   * embedded database serves one process (its folder is locked), where every
   * listener is known: a commit notice that only this hub would hear (and
   * ignore, as its own) would cost a statement and a transaction for nothing.
   */
  private othersListen(): boolean {
    const listeners = this.database.listenerCount(NOTICE_CHANNEL);
    return listeners === undefined || listeners > (this.unlisten ? 1 : 0);
  }

  private async flushCommits(): Promise<void> {
    const commits = this.pendingCommits;
    this.pendingCommits = new Map();
    this.flushing = false;
    const payloads = [...commits].map(([storeId, rev]) => encodeNotice({ kind: 'commit', storeId, rev, from: this.instance }));
    await this.database.rows(NOTIFY_SQL, [payloads]).catch((err) => this.opts.observer?.notifyError?.(err));
  }

  private ping(): void {
    if (this.closed) return;
    this.database.rows(NOTIFY_SQL, [[encodeNotice({ kind: 'ping', from: this.instance })]]).catch((err) => this.opts.observer?.notifyError?.(err));
  }

  /**
   * The store's options changed to `version` (here or on another instance):
   * feeds that read older options filter with them, so they end with `reset`.
   * A feed that read `version` already (it opened after the change committed,
   * before this notice arrived) stays. Without a version (a notice from an
   * older instance) every feed of the store ends.
   */
  optionsChanged(storeId: string, version?: number): void {
    if (version === undefined) {
      this.endStore(storeId, 'options-changed');
      return;
    }
    if (version > this.optionsVersion(storeId)) this.optionsVersions.set(storeId, version);
    this.endStore(storeId, 'options-changed', (s) => s.optionsVersion < version);
  }

  /**
   * The newest options version of the store this instance has heard of: a
   * feed that read an older one, and attaches only after the change was
   * heard, ends at once (see FeedRequest.optionsVersion).
   */
  optionsVersion(storeId: string): number {
    return this.optionsVersions.get(storeId) ?? 0;
  }

  storeDeleted(storeId: string): void {
    this.optionsVersions.delete(storeId); // its feeds end, and a feed opening now finds no store
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
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.().catch(() => {});
  }

  private wakeAll(): void {
    for (const tailer of this.tailers.values()) tailer.wake();
  }

  private beatAll(): void {
    const now = Date.now();
    for (const tailer of this.tailers.values()) for (const sub of tailer.subscribers) if (sub.live) sub.owner!.beat(now);
  }

  private onNotify(payload: string): void {
    const notice = decodeNotice(payload);
    if (!notice) return;
    this.opts.observer?.notice?.(notice.kind);
    this.act(notice);
  }

  /**
   * What a notice does here. What this instance did itself it has already
   * acted on (its own commit woke the tailer; its own PATCH, DELETE and
   * revocation ended the feeds before answering), so only a ping of its own counts.
   */
  private act(notice: Notice): void {
    const own = notice.from === this.instance;
    switch (notice.kind) {
      case 'ping':
        if (own) this.lastPing = Date.now();
        return;
      case 'commit':
        if (!own) this.tailers.get(notice.storeId)?.wake(notice.rev);
        return;
      case 'deleted':
        if (!own) this.storeDeleted(notice.storeId);
        return;
      case 'revoked':
        if (!own) this.endStore(notice.storeId, 'revoked', (s) => s.tokenId === notice.tokenId);
        return;
      case 'options':
        if (own) return;
        this.opts.onOptionsChanged?.(notice.storeId);
        this.optionsChanged(notice.storeId, notice.version);
        return;
    }
  }
}
