/**
 * What the phases of the sync loop (initial-sync.ts, live-feed.ts) share, and
 * the one retry policy they both use for single requests.
 */
import type { ApiClient } from './api.js';
import { type Backoff, isRetryable, parseRetryAfter } from './backoff.js';
import { KeysyncError, ProblemError } from './errors.js';
import type { HttpResult } from './http.js';
import type { LocalRecord, LocalStore } from './local-store.js';
import { HEADERS, problemKind } from '@keysync/protocol';

export interface SyncContext {
  readonly api: ApiClient;
  readonly storeId: string;
  readonly store: LocalStore;
  readonly prefix: string | undefined;
  readonly batchSize: number | undefined;
  /** Whether handshakes ask for an inline batch: false once a server older than it refused the member. */
  inline: boolean;
  /** Aborted by unsubscribe(); every wait and request listens to it. */
  readonly signal: AbortSignal;
  readonly backoff: Backoff;
  /** Report applied records to listeners. */
  emit(records: readonly LocalRecord[]): void;
  progress(done: number, total: number): void;
  /** A request failed and will be retried after `delayMs`. */
  retrying(error: unknown, delayMs: number): void;
  /** A request succeeded after failures. */
  recovered(): void;
  /** An HTTP answer arrived (any status): the URL and CORS work. */
  reached(): void;
  /**
   * Waits `ms` before a retry, ending early when the client is woken (browser
   * `online`, a page shown again); rejects once `signal` aborts.
   */
  nap(ms: number, signal: AbortSignal): Promise<void>;
}

/**
 * A thrown error that retrying may cure: a network failure (fetch rejects
 * with a TypeError, a cut body with a TypeError or an AbortError of its own).
 * Our own errors (ProtocolError...) and the caller's abort are final.
 */
export function isTransient(error: unknown, signal: AbortSignal): boolean {
  return !signal.aborted && !(error instanceof KeysyncError);
}

/**
 * Performs one request, retrying network failures and retryable statuses with
 * backoff, and returns the first result that is a success or a failure the
 * caller must handle (e.g. 410, 409 since-purged). `ack-required` is left to
 * the caller because the cure is acking, not waiting.
 *
 * Each attempt gets its own signal, linked to `ctx.signal` only while it
 * runs: fetch leaves an abort listener on the signal it is given until that
 * request is garbage-collected, so a long sync that passed one shared
 * signal to every request piled up thousands of listeners on it (and
 * MaxListenersExceeded warnings).
 */
export async function request<T>(ctx: SyncContext, call: (signal: AbortSignal) => Promise<HttpResult<T>>): Promise<HttpResult<T>> {
  let failed = false;
  for (;;) {
    let delay: number;
    let failure: unknown;
    const attempt = linkedController(ctx.signal);
    try {
      const res = await call(attempt.signal);
      ctx.reached();
      const status = res.error?.status ?? res.response.status;
      if (!res.error || status === 410 || status === 409 || !isRetryable(status, problemKind(res.error.type))) {
        if (failed) ctx.recovered();
        if (!res.error) ctx.backoff.reset();
        return res;
      }
      failure = new ProblemError(res.error, 'request failed');
      delay = ctx.backoff.next(parseRetryAfter(res.response.headers.get(HEADERS.retryAfter)));
    } catch (error) {
      if (!isTransient(error, ctx.signal)) throw error;
      failure = error;
      delay = ctx.backoff.next();
    } finally {
      attempt.detach();
    }
    failed = true;
    ctx.retrying(failure, delay);
    await ctx.nap(delay, ctx.signal);
  }
}

/**
 * The controllers linked to one parent signal, behind one listener on it
 * that goes when the last of them is unlinked.
 */
class LinkedChildren {
  readonly #children = new Set<AbortController>();

  constructor(readonly parent: AbortSignal) {
    parent.addEventListener('abort', this.#onAbort, { once: true });
  }

  add(child: AbortController): void {
    this.#children.add(child);
  }

  remove(child: AbortController): void {
    if (!this.#children.delete(child) || this.#children.size > 0) return;
    this.parent.removeEventListener('abort', this.#onAbort);
    linkedTo.delete(this.parent);
  }

  readonly #onAbort = () => {
    linkedTo.delete(this.parent);
    for (const child of this.#children) child.abort(this.parent.reason);
  };
}

const linkedTo = new WeakMap<AbortSignal, LinkedChildren>();

/**
 * A controller that also aborts when `parent` does, until it aborts itself or
 * `detach()` unlinks it. (AbortSignal.any would do the linking, but it is
 * missing from browsers before 2024 and cannot be unlinked.) A parent has
 * one listener for all its linked children, and none once they are gone: a
 * session's signal has a child per fetch and ack in flight, and past 10
 * listeners on one signal Node warns of a leak (a server's window of 10
 * batches or more did that).
 */
export function linkedController(parent: AbortSignal): AbortController & { detach(): void } {
  const controller = Object.assign(new AbortController(), { detach: () => undefined as void });
  if (parent.aborted) {
    controller.abort(parent.reason);
    return controller;
  }
  let children = linkedTo.get(parent);
  if (!children) linkedTo.set(parent, (children = new LinkedChildren(parent)));
  const linked = children;
  linked.add(controller);
  controller.detach = () => linked.remove(controller);
  controller.signal.addEventListener('abort', controller.detach, { once: true });
  return controller;
}
