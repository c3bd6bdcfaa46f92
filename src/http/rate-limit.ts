/**
 * Per-client limits that need memory of recent requests: a token bucket per
 * (token, client address) and a bucket of failed authentications per
 * address. They live in this process: with several instances behind a
 * balancer each instance enforces its own share. (Open sync sessions per
 * client are counted in the database: sync/quota.ts.) The admin token and
 * open mode (loopback only) are not limited here; the per-store and
 * per-server limits apply to everyone.
 */
import type { Limits } from '../limits.js';
import { ProblemError } from './problem.js';

const MAX_KEYS = 100_000;

/**
 * Token buckets by key: `rate` per second refill, `burst` capacity.
 * @example new TokenBuckets(10, 20).take('a') // 0 (allowed) or seconds to wait
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token: 0 when allowed, else the whole seconds until one is available. */
  take(key: string): number {
    const wait = this.peek(key);
    if (wait === 0 && this.rate > 0) this.buckets.get(key)!.tokens -= 1;
    return wait;
  }

  /** 0 when a token is available (without taking it), else the seconds to wait. */
  peek(key: string): number {
    if (this.rate <= 0) return 0;
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_KEYS) this.sweep(now);
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
      bucket.at = now;
    }
    return bucket.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / this.rate));
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Forgets buckets that are full again (idle clients); if that frees nothing, the oldest. */
  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(key);
    }
    if (this.buckets.size >= MAX_KEYS) {
      for (const key of this.buckets.keys()) {
        this.buckets.delete(key);
        if (this.buckets.size < MAX_KEYS / 2) break;
      }
    }
  }
}

/** The per-process rate limit state of one app. */
export class RateLimits {
  readonly requests: TokenBuckets;
  readonly authFailures: TokenBuckets;

  constructor(readonly limits: Limits) {
    this.requests = new TokenBuckets(limits.rateLimit, limits.rateBurst);
    this.authFailures = new TokenBuckets(limits.authFailureLimit, limits.authFailureLimit * 5);
  }
}

export function tooManyRequests(retryAfter: number, detail: string, limit?: string): ProblemError {
  return new ProblemError(429, 'too-many-requests', 'Too Many Requests', detail, undefined, { 'retry-after': String(retryAfter) }, limit);
}
