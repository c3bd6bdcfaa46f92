/**
 * SyncClient: keeps a LocalStore a replica of one server store.
 *
 *               start() / subscribe()
 *                        │
 *                        ▼
 *      ┌──────────►  syncing   handshake (since | have), removed, batches + acks;
 *      │ reset           │     checkpoint := headRev; onComplete (first time only);
 *      │                 │     open the feed with ?since=headRev
 *      │                 │ event: ready
 *      │                 ▼
 *      │               live ◄──────────────┐
 *      │                 │ error / EOF     │ event: ready
 *      │                 ▼                 │
 *      └──────────  reconnecting ──────────┘ backoff (full jitter, Retry-After,
 *                                            SSE retry), Last-Event-ID = checkpoint
 *
 *   live → reconnecting also when nothing arrived for ~2 heartbeats (the server
 *   advertises its interval in `ready`): a connection dropped without a close.
 *   In browsers, `online` and a page shown again after a long time cut the
 *   connection and any backoff wait short: reconnect at once.
 *   syncing ⇄ reconnecting also while a handshake/batch/ack request is retried;
 *   if the server was never reached, the 3rd failure goes to onError once
 *   (UnreachableError, a hint about the URL or CORS) and retries continue.
 *   Inside syncing: 409 since-purged|since-ahead → handshake with `have`;
 *   410 session-expired → handshake again.
 *   Any state → stopped: unsubscribe() (quietly), or store-deleted, 401/403/404,
 *   a contract violation or a local store failure (reported through onError).
 */
import { createApiClient } from './api.js';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';
import { KeysyncError, StoreDeletedError, TokenRevokedError, UnreachableError } from './errors.js';
import type { FetchLike } from './http.js';
import { initialSync, type HandshakeMode } from './initial-sync.js';
import { Listeners, type ChangeListener } from './listeners.js';
import { FeedInterrupted, runLiveFeed, type FeedEnd, type FeedPosition } from './live-feed.js';
import type { LocalStore } from './local-store.js';
import type { Change } from './records.js';
import { linkedController, type SyncContext } from './sync-context.js';
import { watchWakeups, WokenError, type WakeReason } from './wake.js';
import type { ValueParser } from './wire.js';

/**
 * Keys per batch the client asks for unless told otherwise (see `batchSize`).
 * Each batch costs a request, a statement and an ack whatever its size: an
 * initial sync of 100k keys of 1 KiB on PostgreSQL took 2.3 s in batches of
 * 1000 and 1.9 s in batches of 2000 (A/B in turns; 2500 and 5000 were no
 * faster), a durable store commits half as often, and the server's byte
 * budget per batch (KEYSYNC_BATCH_BYTES) still closes a batch of large values
 * early. The cost is memory: up to `window` batches in flight.
 */
const DEFAULT_BATCH_SIZE = 2000;
/** The server's heartbeat when it does not say (KEYSYNC_HEARTBEAT_MS's default). */
const DEFAULT_HEARTBEAT_MS = 15_000;
/** Failures before the server was ever reached that make one UnreachableError. */
const UNREACHABLE_AFTER = 3;

export type SyncState = 'syncing' | 'live' | 'reconnecting' | 'stopped';

/** Batches of the current sync session: `done` of `total` applied and acked. */
export interface SyncProgress {
  done: number;
  total: number;
}

export interface SubscribeOptions {
  baseUrl: string;
  token?: string | undefined;
  fetch?: FetchLike | undefined;
  /** Compressed responses on Node; by default unless the server is on loopback (see HttpOptions). */
  compress?: boolean | undefined;
  storeId: string;
  /** The replica. One store per (storeId, prefix). */
  store: LocalStore;
  /** Sync only keys under this prefix. */
  prefix?: string | undefined;
  /**
   * Requested keys per batch (default 2000). The server caps it
   * (KEYSYNC_MAX_BATCH_SIZE, by default 10,000) and
   * closes a batch early at its byte budget (KEYSYNC_BATCH_BYTES), so large
   * values never make large batches. Fewer, larger batches mean fewer round
   * trips, and round trips dominate an initial sync.
   */
  batchSize?: number | undefined;
  /**
   * Turns each JSON value received (batches and live events) from its text,
   * exactly as the server stores it, into what the local store holds.
   * Default: JSON.parse. See docs/client.md, "Exact values".
   */
  parseValue?: ValueParser | undefined;
  /**
   * A feed that receives nothing (not even a heartbeat) for this long is
   * taken for dead and replaced. Default: twice the heartbeat interval the
   * server advertises (15 s if it does not) plus one second.
   */
  deadAfterMs?: number | undefined;
  /**
   * In browsers, reconnect at once on `online` and when the page becomes
   * visible after being hidden for longer than the dead-connection limit.
   * Default true; does nothing outside browsers.
   */
  reconnectOnWake?: boolean | undefined;
  /** The first initial sync completed: the store mirrors the server at headRev. */
  onComplete?: (() => void) | undefined;
  /**
   * The client stopped on an error; or it goes on after a callback threw
   * (CallbackError) or while the server has never been reached
   * (UnreachableError, reported once, after 3 failed attempts).
   */
  onError?: ((error: Error) => void) | undefined;
  /** Every applied change, once, in the order applied. */
  onChange?: ChangeListener | undefined;
  /** `error` is what caused a move to `reconnecting`. */
  onStateChange?: ((state: SyncState, detail: { previous: SyncState; error?: unknown }) => void) | undefined;
  backoff?: BackoffOptions | undefined;
}

export class SyncClient {
  #state: SyncState = 'stopped';
  #progress: SyncProgress = { done: 0, total: 0 };
  #run: Promise<void> | undefined;
  readonly #abort = new AbortController();
  readonly #listeners: Listeners;
  readonly #ctx: SyncContext;
  #serverRetryMs: number | undefined;
  #heartbeatMs: number | undefined;
  /** Aborted (and replaced) to wake the client: cuts the feed and any retry wait. */
  #wake = new AbortController();
  #unwatch: (() => void) | undefined;
  /** The server has answered once: failures are then outages, not a set-up mistake. */
  #reached = false;
  #failuresUnreached = 0;
  readonly #options: SubscribeOptions;

  constructor(options: SubscribeOptions) {
    this.#options = options;
    this.#listeners = new Listeners(options.onChange, (error) => this.#report(error));
    this.#ctx = {
      api: createApiClient(options),
      storeId: options.storeId,
      store: options.store,
      prefix: options.prefix,
      batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
      inline: true,
      signal: this.#abort.signal,
      backoff: new Backoff(options.backoff),
      emit: (records) => this.#listeners.emit(records),
      progress: (done, total) => {
        this.#progress = { done, total };
      },
      retrying: (error) => this.#retrying(error),
      recovered: () => this.#setState('syncing'),
      reached: () => {
        this.#reached = true;
      },
      nap: (ms, signal) => this.#nap(ms, signal),
    };
  }

  get state(): SyncState {
    return this.#state;
  }

  get progress(): SyncProgress {
    return { ...this.#progress };
  }

  /** Starts replicating. Call once. */
  start(): this {
    if (this.#run || this.#abort.signal.aborted) throw new Error('SyncClient already started or stopped');
    this.#setState('syncing');
    if (this.#options.reconnectOnWake !== false) {
      this.#unwatch = watchWakeups(
        (why) => this.#wakeUp(why),
        () => this.#deadAfterMs(),
      );
    }
    this.#run = this.#loop().finally(() => this.#unwatch?.());
    return this;
  }

  /**
   * Calls `listener` for every applied change of `key`.
   * @returns a function that removes the listener
   * @example const off = client.on('config', (c) => apply(c.value));
   */
  on(key: string, listener: (change: Change) => void): () => void {
    return this.#listeners.on(key, listener);
  }

  /** Stops replicating; resolves once no store write is in progress. */
  async unsubscribe(): Promise<void> {
    this.#setState('stopped');
    this.#abort.abort(new DOMException('unsubscribed', 'AbortError'));
    await this.#run;
  }

  async #loop(): Promise<void> {
    const ctx = this.#ctx;
    let mode: HandshakeMode = 'auto';
    let completed = false;
    try {
      for (;;) {
        const headRev = await initialSync(ctx, mode);
        if (!completed) {
          completed = true;
          if (this.#options.onComplete) this.#listeners.call('onComplete', this.#options.onComplete);
        }
        const end = await this.#follow({ checkpoint: headRev, lastEventId: undefined });
        if (end === 'store-deleted') throw new StoreDeletedError(ctx.storeId);
        // Reconnecting would only get 401: say what happened instead.
        if (end === 'revoked') throw new TokenRevokedError(ctx.storeId);
        // reset: our position is unusable (purged, or ahead of the server).
        mode = 'have';
        this.#setState('syncing');
      }
    } catch (error) {
      if (this.#abort.signal.aborted) return;
      this.#setState('stopped');
      this.#report(error instanceof Error ? error : new KeysyncError(String(error)));
    }
  }

  /** Follows the live feed, reconnecting, until it says reset, store-deleted or revoked. */
  async #follow(pos: FeedPosition): Promise<Exclude<FeedEnd, 'eof'>> {
    const ctx = this.#ctx;
    let sawReady = false;
    const hooks = {
      ready: (data: { heartbeatMs?: number }) => {
        sawReady = true;
        this.#reached = true;
        this.#heartbeatMs = data.heartbeatMs;
        ctx.backoff.reset();
        this.#setState('live');
      },
      retry: (ms: number) => {
        this.#serverRetryMs = ms;
      },
    };
    for (;;) {
      let cause: unknown;
      let floor = this.#serverRetryMs;
      try {
        const end = await runLiveFeed(ctx, pos, hooks, { deadAfterMs: () => this.#deadAfterMs(), interrupt: this.#wake.signal });
        if (end !== 'eof') {
          // A reset before the feed ever went live hints at a loop
          // (handshake → reset → handshake); slow it down.
          if (end === 'reset' && !sawReady) await sleep(ctx.backoff.next(floor), ctx.signal);
          return end;
        }
        cause = new Error('live feed closed');
      } catch (error) {
        if (!(error instanceof FeedInterrupted)) throw error;
        cause = error.cause;
        if (cause instanceof WokenError) {
          // Woken: the network is back or the page returns; no reason to wait.
          sawReady = false;
          this.#setState('reconnecting', cause);
          continue;
        }
        if (error.retryAfterMs !== undefined) floor = Math.max(floor ?? 0, error.retryAfterMs);
      }
      sawReady = false;
      const delay = ctx.backoff.next(floor);
      this.#retrying(cause);
      await this.#nap(delay, ctx.signal);
    }
  }

  #deadAfterMs(): number {
    return this.#options.deadAfterMs ?? 2 * (this.#heartbeatMs ?? DEFAULT_HEARTBEAT_MS) + 1000;
  }

  #retrying(error: unknown): void {
    this.#setState('reconnecting', error);
    if (this.#reached || ++this.#failuresUnreached !== UNREACHABLE_AFTER) return;
    this.#report(new UnreachableError(this.#options.baseUrl, UNREACHABLE_AFTER, error));
  }

  /** Cuts the live connection and any retry wait, so the client reconnects now. */
  #wakeUp(reason: WakeReason): void {
    if (this.#state === 'stopped') return;
    const woken = this.#wake;
    this.#wake = new AbortController();
    woken.abort(new WokenError(reason));
  }

  /** A retry wait that a wake-up ends early. */
  async #nap(ms: number, signal: AbortSignal): Promise<void> {
    const wait = linkedController(signal);
    const wake = this.#wake.signal;
    const onWake = () => wait.abort(wake.reason);
    wake.addEventListener('abort', onWake, { once: true });
    try {
      await sleep(ms, wait.signal);
    } catch (error) {
      if (signal.aborted) throw error;
    } finally {
      wake.removeEventListener('abort', onWake);
      wait.abort();
    }
  }

  #setState(state: SyncState, error?: unknown): void {
    // Once stopped (after start), nothing moves it again.
    if (state === this.#state || (this.#state === 'stopped' && this.#run !== undefined)) return;
    const previous = this.#state;
    this.#state = state;
    const cb = this.#options.onStateChange;
    if (cb) this.#listeners.call('onStateChange', cb, state, error === undefined ? { previous } : { previous, error });
  }

  #report(error: Error): void {
    const cb = this.#options.onError;
    if (!cb) return;
    try {
      cb(error);
    } catch {
      // Nowhere left to report an error thrown by the error handler.
    }
  }
}

/**
 * Starts replicating `storeId` into `store` and returns the running client.
 * @example
 * const client = subscribe({ baseUrl, token, storeId: id, store: new MemoryStore(),
 *   onComplete: () => console.log('in sync'), onError: console.error });
 * client.on('settings', (c) => console.log(c.op, c.value));
 */
export function subscribe(options: SubscribeOptions): SyncClient {
  return new SyncClient(options).start();
}
