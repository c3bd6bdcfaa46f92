import { describe, expect, it } from 'vitest';
import { Backoff, isRetryable, parseRetryAfter, sleep } from '../src/backoff.js';

describe('Backoff', () => {
  it('draws each delay uniformly from [0, cap] with a cap that doubles up to the maximum', () => {
    const top = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 6 }, () => top.next())).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect(Array.from({ length: 3 }, () => bottom.next())).toEqual([0, 0, 0]);
  });

  it('spreads delays over the whole range with a real random source', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 1000 });
    const delays = Array.from({ length: 500 }, () => b.next());
    expect(Math.min(...delays)).toBeLessThan(100);
    expect(Math.max(...delays)).toBeGreaterThan(900);
    expect(delays.every((d) => d >= 0 && d < 1000)).toBe(true);
  });

  it('starts small again after reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, random: () => 0.5 });
    b.next();
    b.next();
    b.next();
    expect(b.attempt).toBe(3);
    b.reset();
    expect(b.next()).toBe(50);
  });

  it('waits at least as long as the server asked, clamped to maxRetryAfterMs', () => {
    const b = new Backoff({ initialMs: 100, random: () => 0.5, maxRetryAfterMs: 60_000 });
    expect(b.next(5000)).toBe(5000);
    expect(b.next(10 * 60 * 60_000)).toBe(60_000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-26T07:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Thu, 26 Nov 2026 07:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 26 Nov 2026 06:59:00 GMT', now)).toBe(0);
  });

  it('ignores absent and malformed values', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
  });
});

describe('isRetryable', () => {
  it('retries server errors, timeouts, rate limits and expired sessions', () => {
    for (const status of [500, 502, 503, 504, 408, 429, 410]) expect(isRetryable(status), String(status)).toBe(true);
  });

  it('never retries other client errors', () => {
    for (const status of [400, 401, 403, 404, 405, 412, 413, 415, 422]) expect(isRetryable(status), String(status)).toBe(false);
    expect(isRetryable(501)).toBe(false);
  });

  it('retries 409 only while waiting for acks', () => {
    expect(isRetryable(409, 'ack-required')).toBe(true);
    expect(isRetryable(409, 'since-purged')).toBe(false);
    expect(isRetryable(409, 'not-delivered')).toBe(false);
    expect(isRetryable(409)).toBe(false);
  });
});

describe('sleep', () => {
  it('rejects with the abort reason as soon as the signal aborts', async () => {
    const c = new AbortController();
    const started = Date.now();
    const p = sleep(10_000, c.signal);
    c.abort(new Error('bye'));
    await expect(p).rejects.toThrow('bye');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
