/**
 * Helpers for the options tests: a handshake that records what each batch
 * delivered, in delivery order, and the expected synced subset of a store
 * computed independently of the server (filter, then reachability).
 */
import { expect } from 'vitest';
import type { Entry } from '../support/wire.js';
import { call, json } from '../support/http.js';
import type { TestServer } from '../support/server.js';

export type { Entry } from '../support/wire.js';

export interface Handshake {
  sessionId: string;
  stale: string[];
  removed: string[];
  headRev: number;
  batches: number;
}

/** Handshake with `body`, then fetch and ack every batch; `entries` is what the batches carried, in order. */
export async function syncAll(server: TestServer, storeId: string, body: Record<string, unknown>): Promise<{ hs: Handshake; entries: Entry[] }> {
  const res = await call(server, `/v1/stores/${storeId}/sync`, json(body));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const hs = res.body as Handshake;
  const entries: Entry[] = [];
  for (let cursor = 0; cursor < hs.batches; cursor++) {
    const batch = await call(server, `/v1/stores/${storeId}/sync/${hs.sessionId}/batches/${cursor}`);
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    entries.push(...(batch.body.entries as Entry[]));
    const ack = await call(server, `/v1/stores/${storeId}/sync/${hs.sessionId}/ack`, json({ cursor }));
    expect(ack.status).toBe(200);
  }
  return { hs, entries };
}

/** A fresh client's sync: `{have: {}}`. */
export const freshSync = (server: TestServer, storeId: string, extra: Record<string, unknown> = {}) => syncAll(server, storeId, { have: {}, ...extra });

/** The key filter of the `filter` option, written from the contract (not from src/). */
export function passesFilter(key: string, filter: { prefixes?: string[]; excludePrefixes?: string[] } | undefined): boolean {
  if (!filter) return true;
  const { prefixes = [], excludePrefixes = [] } = filter;
  return (prefixes.length === 0 || prefixes.some((p) => key.startsWith(p))) && !excludePrefixes.some((p) => key.startsWith(p));
}

/**
 * Keys reachable from `roots` over a snapshot, following the strings in
 * `refsOf(value)`; a plain breadth-first search as the contract describes.
 */
export function reachable(snapshot: Record<string, unknown>, roots: string[], refsOf: (value: unknown) => string[]): Set<string> {
  const seen = new Set<string>();
  const queue = roots.filter((r) => r in snapshot);
  for (const r of queue) seen.add(r);
  while (queue.length > 0) {
    const key = queue.shift()!;
    for (const ref of refsOf(snapshot[key])) {
      if (!seen.has(ref) && ref in snapshot) {
        seen.add(ref);
        queue.push(ref);
      }
    }
  }
  return seen;
}

/** The subset of a snapshot whose keys pass `keep`. */
export function subset(snapshot: Record<string, unknown>, keep: (key: string, value: unknown) => boolean): Record<string, unknown> {
  return Object.fromEntries(Object.entries(snapshot).filter(([k, v]) => keep(k, v)));
}

/** The keys of the put and delete events of a feed, in arrival order. */
export const feedKeys = (events: Array<{ event: string; data: any }>) =>
  events.filter((e) => e.event === 'put' || e.event === 'delete').map((e) => e.data.key as string);

/** Problem+json assertions: status, type suffix and content type. */
export function expectProblem(res: { status: number; body: any; res: Response }, status: number, kind: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body.type).toBe(`https://keysync.dev/problems/${kind}`);
  expect(res.body.status).toBe(status);
}
