/**
 * Retry timing. Full jitter (delay uniform in [0, cap]) spreads a crowd of
 * replicas that lost the server at the same instant, so they do not all come
 * back in lock-step; `Retry-After` and SSE `retry:` are honoured as floors
 * because the server knows better than our guess.
 */
import { PROBLEMS } from '@keysync/protocol';

export interface BackoffOptions {
  /** Cap of the first retry's delay. */
  initialMs?: number;
  /** Cap never grows past this. */
  maxMs?: number;
  multiplier?: number;
  /** A server asking for longer than this is clamped, so a bad header cannot park a client for days. */
  maxRetryAfterMs?: number;
  /** Injectable for deterministic tests; must return [0, 1). */
  random?: () => number;
}

export class Backoff {
  #attempt = 0;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #multiplier: number;
  readonly #maxRetryAfterMs: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 500;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#multiplier = options.multiplier ?? 2;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 10 * 60_000;
    this.#random = options.random ?? Math.random;
  }

  /** Retries since the last `reset()`. */
  get attempt(): number {
    return this.#attempt;
  }

  /**
   * The delay before the next attempt, and counts the attempt.
   * @param floorMs a server-given minimum (Retry-After, SSE `retry:`)
   * @example new Backoff({ random: () => 0.5 }).next() // 250 (half of the 500 ms cap)
   */
  next(floorMs?: number): number {
    const cap = Math.min(this.#maxMs, this.#initialMs * this.#multiplier ** this.#attempt);
    this.#attempt++;
    const jittered = Math.floor(this.#random() * cap);
    const floor = floorMs === undefined ? 0 : Math.min(Math.max(0, floorMs), this.#maxRetryAfterMs);
    return Math.max(jittered, floor);
  }

  /** Call after a success so the next failure starts small again. */
  reset(): void {
    this.#attempt = 0;
  }
}

/**
 * Milliseconds a `Retry-After` header asks us to wait: delta-seconds or an
 * HTTP date. Undefined when absent or unparseable (then plain backoff applies).
 * @example parseRetryAfter('120') // 120000
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse accepts many formats; require at least a weekday-comma or
  // GMT marker so that a stray "1.5" is not read as a date.
  if (!/GMT|UTC|,/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Whether a failed request may succeed if tried again (or, for 410, after a
 * new handshake). Other 4xx mean the request itself is wrong and repeating it
 * only adds load: 401/403/404/400 stop the client instead.
 * 409 is retryable only as `ack-required` (wait for acks); `since-purged` and
 * `since-ahead` are not retries but a switch to a `have` handshake, which
 * the sync loop does explicitly.
 */
export function isRetryable(status: number, kind?: string): boolean {
  if (status >= 500) return status !== 501 && status !== 505;
  if (status === 408 || status === 429 || status === 410) return true;
  if (status === 409) return kind === PROBLEMS.ackRequired;
  return false;
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
