/**
 * A SyncClient with its defaults on Node reads batches over its own
 * transport (clients/typescript/src/transport/node.ts), identity and
 * compressed, and converges as through fetch; an injected fetch carries
 * every request instead. Requests are told apart by Node's diagnostics
 * channels: node:http publishes `http.client.request.start`, fetch (undici)
 * `undici:request:create`.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import { bulk, newStore } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { manyOps, replicaSnapshot, start } from './support.js';

const env = useTestServer();

/** Paths requested over node:http and over fetch, in this process. */
let overHttp: string[];
let overFetch: string[];
const onHttp = (message: unknown) => overHttp.push((message as { request: ClientRequest }).request.path);
const onFetch = (message: unknown) => overFetch.push((message as { request: { path: string } }).request.path);
beforeEach(() => {
  overHttp = [];
  overFetch = [];
  subscribe('http.client.request.start', onHttp);
  subscribe('undici:request:create', onFetch);
});
afterEach(() => {
  unsubscribe('http.client.request.start', onHttp);
  unsubscribe('undici:request:create', onFetch);
});

const batchPaths = (paths: string[]) => paths.filter((p) => /\/batches\/\d+$/.test(p));

describe('the Node transport under a SyncClient', () => {
  it.each([false, true])('reads every batch over node:http and converges (compress: %s)', async (compress) => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, manyOps(120));
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store, batchSize: 25, compress });
    await run.completed;
    try {
      expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId));
      expect(batchPaths(overHttp)).toHaveLength(5);
      expect(batchPaths(overFetch)).toEqual([]);
      // The handshake and the acks stay on fetch.
      expect(overFetch.some((p) => p.endsWith('/sync'))).toBe(true);
      expect(run.errors).toEqual([]);
    } finally {
      await run.client.unsubscribe();
    }
  });

  it('sends every request through an injected fetch', async () => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, manyOps(60));
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store, batchSize: 25, fetch: (input, init) => fetch(input, init) });
    await run.completed;
    try {
      expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId));
      expect(batchPaths(overFetch)).toHaveLength(3);
      expect(overHttp).toEqual([]);
    } finally {
      await run.client.unsubscribe();
    }
  });
});
