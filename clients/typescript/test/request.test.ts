/**
 * `request()` gives each attempt its own signal, unlinked from the client's
 * long-lived one when the attempt ends: fetch keeps an abort listener on the
 * signal it was given until the request is garbage-collected, and a sync of
 * many batches used to pile thousands of them onto one signal.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Backoff, sleep } from '../src/backoff.js';
import type { HttpResult } from '../src/http.js';
import { request, type SyncContext } from '../src/sync-context.js';

function context(signal: AbortSignal): SyncContext {
  return {
    signal,
    backoff: new Backoff({ random: () => 0, initialMs: 1, maxMs: 2 }),
    retrying: () => undefined,
    recovered: () => undefined,
    reached: () => undefined,
    nap: (ms: number, s: AbortSignal) => sleep(ms, s),
  } as unknown as SyncContext;
}

const ok = { data: {}, response: new Response('{}') } as unknown as HttpResult<object>;

describe('request', () => {
  it('leaves no listener on the client signal, however many requests ran', async () => {
    const client = new AbortController();
    const ctx = context(client.signal);
    for (let i = 0; i < 200; i++) {
      await request(ctx, async (signal) => {
        // As fetch does: a listener that stays until the request is collected.
        signal.addEventListener('abort', () => undefined);
        return ok;
      });
    }
    expect(getEventListeners(client.signal, 'abort')).toHaveLength(0);
  });

  it('still aborts the attempt in flight when the client aborts', async () => {
    const client = new AbortController();
    const seen: AbortSignal[] = [];
    const pending = request(context(client.signal), (signal) => {
      seen.push(signal);
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    client.abort(new Error('unsubscribed'));
    await expect(pending).rejects.toThrow('unsubscribed');
    expect(seen[0]!.aborted).toBe(true);
  });
});
