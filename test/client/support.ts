/**
 * Helpers for the end-to-end tests of @keysync/client against the real
 * server: a fetch that records what travelled, a running subscription with
 * its callbacks recorded, and the replica read back in the shape of
 * `serverSnapshot` so the two compare with one `toEqual`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { encodeBase64 } from '../../clients/typescript/src/base64.js';
import type { Change } from '../../clients/typescript/src/records.js';
import type { LocalStore } from '../../clients/typescript/src/local-store.js';
import { subscribe, type SubscribeOptions, type SyncClient, type SyncState } from '../../clients/typescript/src/sync-client.js';
import type { FetchLike } from '../../clients/typescript/src/http.js';
import type { TestServer } from '../support/server.js';

export { sleep };

/** Fast reconnects for tests; the jitter stays real. */
export const FAST_BACKOFF = { initialMs: 20, maxMs: 300 };

export interface Traffic {
  fetch: FetchLike;
  /** Handshake request bodies, in order. */
  handshakes: Array<Record<string, unknown>>;
  /** Handshake answers (status and body), in order. */
  handshakeAnswers: Array<{ status: number; body: any }>;
  /** Keys of every batch entry received, in order, inline batches included (a re-fetched batch counts again). */
  batchKeys: string[];
  /** Feed requests: the Last-Event-ID and ?since each one sent. */
  feeds: Array<{ lastEventId: string | null; since: string | null }>;
  /** Every answer: method, path and status. */
  answers: Array<{ method: string; path: string; status: number }>;
  reset(): void;
}

/** A fetch over the global one that records handshakes, batch entries and feed opens. */
export function traffic(): Traffic {
  const t: Traffic = {
    handshakes: [],
    handshakeAnswers: [],
    batchKeys: [],
    feeds: [],
    answers: [],
    reset() {
      t.handshakes.length = 0;
      t.handshakeAnswers.length = 0;
      t.batchKeys.length = 0;
      t.feeds.length = 0;
      t.answers.length = 0;
    },
    fetch: async (input, init) => {
      const url = new URL(input);
      const path = url.pathname;
      if (/\/sync$/.test(path) && init?.method === 'POST') t.handshakes.push(JSON.parse(String(init.body)));
      if (/\/events$/.test(path)) {
        t.feeds.push({ lastEventId: new Headers(init?.headers).get('last-event-id'), since: url.searchParams.get('since') });
      }
      const res = await fetch(input, init);
      t.answers.push({ method: init?.method ?? 'GET', path, status: res.status });
      if (/\/sync$/.test(path) && init?.method === 'POST') {
        const body = await res.clone().json();
        t.handshakeAnswers.push({ status: res.status, body });
        for (const e of body.batch?.entries ?? []) t.batchKeys.push(e.key);
      }
      if (/\/batches\/\d+$/.test(path) && res.ok) {
        const body = (await res.clone().json()) as { entries: { key: string }[] };
        for (const e of body.entries) t.batchKeys.push(e.key);
      }
      return res;
    },
  };
  return t;
}

export interface Running {
  client: SyncClient;
  changes: Change[];
  errors: Error[];
  states: SyncState[];
  completed: Promise<void>;
}

/** Starts a subscription that records every change, error and state. */
export function start(server: TestServer, options: Omit<SubscribeOptions, 'baseUrl'> & { baseUrl?: string }): Running {
  const changes: Change[] = [];
  const errors: Error[] = [];
  const states: SyncState[] = [];
  let done!: () => void;
  let fail!: (e: Error) => void;
  const completed = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  completed.catch(() => undefined);
  const client = subscribe({
    baseUrl: server.url,
    backoff: FAST_BACKOFF,
    ...options,
    onChange: (c) => {
      changes.push(c);
      options.onChange?.(c);
    },
    onError: (e) => {
      errors.push(e);
      fail(e);
      options.onError?.(e);
    },
    onStateChange: (s, d) => {
      states.push(s);
      options.onStateChange?.(s, d);
    },
    onComplete: () => {
      done();
      options.onComplete?.();
    },
  });
  return { client, changes, errors, states, completed };
}

/** Polls `check` until it holds (or throws its last assertion after `timeoutMs`). */
export async function eventually(check: () => unknown | Promise<unknown>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > until) throw error;
      await sleep(20);
    }
  }
}

/** The replica's live keys and values in the shape of `serverSnapshot`. */
export async function replicaSnapshot(store: LocalStore): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(await store.have()).sort((a, b) => (a < b ? -1 : 1))) {
    const r = await store.get(key);
    if (!r || r.kind === 'deleted') continue;
    out[key] = r.kind === 'json' ? r.value : { base64: encodeBase64(r.bytes), contentType: r.contentType };
  }
  return out;
}

/** Every key's changes come with strictly increasing revs: nothing goes backwards, nothing repeats. */
export function expectRevsIncreasePerKey(changes: readonly Change[]): void {
  const last = new Map<string, number>();
  for (const c of changes) {
    const prev = last.get(c.key);
    if (prev !== undefined) expect(c.rev, `rev of "${c.key}" after ${prev}`).toBeGreaterThan(prev);
    last.set(c.key, c.rev);
  }
}

/** The changes' revs strictly increase overall (the live feed's order). */
export function expectRevsIncrease(changes: readonly Change[]): void {
  const revs = changes.map((c) => c.rev);
  expect(revs).toEqual([...revs].sort((a, b) => a - b));
  expect(new Set(revs).size).toBe(revs.length);
}

/** `n` put ops k0000..k{n-1}, some JSON, every seventh bytes, keys with slashes, spaces and unicode. */
export function manyOps(n: number, tag = 'v1'): unknown[] {
  return Array.from({ length: n }, (_, i) => {
    const key = `${['users/', 'docs/a b/', 'ünï/'][i % 3]}k${String(i).padStart(4, '0')}`;
    return i % 7 === 0
      ? { op: 'put', key, base64: Buffer.from(`${tag}:${i}`).toString('base64'), contentType: 'application/octet-stream' }
      : { op: 'put', key, value: { i, tag, list: [i, String(i)], nested: { ok: i % 2 === 0 } } };
  });
}
