/**
 * The network between client and server fails in the ways that tell nobody:
 * a connection that silently stops forwarding must be noticed (nothing, not
 * even a heartbeat, for about two heartbeat intervals) and replaced without
 * losing a write; a server never reached must show up in onError with a hint,
 * while retries go on.
 */
import { describe, expect, it } from 'vitest';
import { UnreachableError } from '../../clients/typescript/src/errors.js';
import { StalledError } from '../../clients/typescript/src/sse.js';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import { newStore, put } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { eventually, replicaSnapshot, start } from './support.js';

const HEARTBEAT_MS = 300;
const env = useTestServer({ limits: { heartbeatMs: HEARTBEAT_MS } });

describe('a connection that dies silently', () => {
  it('is replaced after about two heartbeats of silence, and the writes made meanwhile arrive', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'before', 1);
    const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
    const store = new MemoryStore();
    const stalls: Array<{ at: number; error: unknown }> = [];
    const run = start(env.server, {
      baseUrl: proxy.url,
      storeId,
      store,
      onStateChange: (state, detail) => {
        if (state === 'reconnecting') stalls.push({ at: Date.now(), error: detail.error });
      },
    });
    try {
      await run.completed;
      await eventually(() => expect(run.client.state).toBe('live'));
      const openedBefore = proxy.opened;

      proxy.silence();
      const silencedAt = Date.now();
      for (const k of ['a', 'b', 'c']) await put(env.server, storeId, k, k);

      await eventually(async () => expect(await replicaSnapshot(store)).toEqual(await serverSnapshot(env.server, storeId)), 20_000);
      const stall = stalls.find((s) => s.error instanceof StalledError);
      expect(stall, 'the dead feed was taken for dead').toBeDefined();
      // The server advertised its heartbeat in `ready`: the limit is 2 x 300 ms + 1 s, not the 31 s default.
      const detectedMs = stall!.at - silencedAt;
      expect(detectedMs).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS);
      expect(detectedMs).toBeLessThan(10_000);
      console.log(`silently dead connection detected after ${detectedMs} ms (heartbeat ${HEARTBEAT_MS} ms)`);
      expect(proxy.opened).toBeGreaterThan(openedBefore);
      expect(run.errors).toEqual([]);
      await eventually(() => expect(run.client.state).toBe('live'));
    } finally {
      await run.client.unsubscribe();
      await proxy.close();
    }
  });

  it('a feed that stays quiet but alive (heartbeats only) is kept', async () => {
    const storeId = await newStore(env.server);
    const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
    const run = start(env.server, { baseUrl: proxy.url, storeId, store: new MemoryStore() });
    try {
      await run.completed;
      await eventually(() => expect(run.client.state).toBe('live'));
      const opened = proxy.opened;
      await new Promise((r) => setTimeout(r, 8 * HEARTBEAT_MS));
      expect(proxy.opened).toBe(opened);
      expect(run.client.state).toBe('live');
    } finally {
      await run.client.unsubscribe();
      await proxy.close();
    }
  });
});

describe('a server never reached', () => {
  it('reports UnreachableError once, with a hint about the URL and CORS, and keeps retrying until it answers', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'k', 'v');
    const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
    proxy.refuse();
    const errors: Error[] = [];
    const store = new MemoryStore();
    const run = start(env.server, { baseUrl: proxy.url, storeId, store, onError: (e) => errors.push(e) });
    try {
      await eventually(() => expect(errors).toHaveLength(1));
      const error = errors[0]!;
      expect(error).toBeInstanceOf(UnreachableError);
      expect(error.message).toContain(proxy.url);
      expect(error.message).toMatch(/KEYSYNC_CORS_ORIGINS/);
      expect(error.message).toMatch(/still retrying/);
      expect(run.client.state).toBe('reconnecting');

      proxy.accept();
      await eventually(() => expect(run.client.state).toBe('live'));
      expect(await replicaSnapshot(store)).toEqual({ k: 'v' });
      expect(errors).toHaveLength(1);
    } finally {
      await run.client.unsubscribe();
      await proxy.close();
    }
  });

  it('is not reported for an outage after the server was reached', async () => {
    const storeId = await newStore(env.server);
    const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
    const errors: Error[] = [];
    const run = start(env.server, { baseUrl: proxy.url, storeId, store: new MemoryStore(), onError: (e) => errors.push(e) });
    try {
      await run.completed;
      await eventually(() => expect(run.client.state).toBe('live'));
      proxy.refuse();
      proxy.cut();
      await new Promise((r) => setTimeout(r, 2000)); // several refused reconnects at the test backoff
      expect(run.client.state).toBe('reconnecting');
      expect(errors).toEqual([]);
      proxy.accept();
      await eventually(() => expect(run.client.state).toBe('live'));
    } finally {
      await run.client.unsubscribe();
      await proxy.close();
    }
  });
});

describe('a browser coming back online', () => {
  it('cuts a long backoff wait short: the client reconnects at once', async () => {
    // The window's `online` event, played by an EventTarget on globalThis (Chromium runs the real one in test/browser).
    const win = new EventTarget();
    const g = globalThis as Record<string, unknown>;
    g['addEventListener'] = win.addEventListener.bind(win);
    g['removeEventListener'] = win.removeEventListener.bind(win);
    const storeId = await newStore(env.server);
    const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
    const store = new MemoryStore();
    // Every retry waits ~20 s: only the wake-up can explain a quick return.
    const run = start(env.server, { baseUrl: proxy.url, storeId, store, backoff: { initialMs: 20_000, maxMs: 20_000, random: () => 0.99 } });
    try {
      await run.completed;
      await eventually(() => expect(run.client.state).toBe('live'));
      proxy.refuse();
      proxy.cut();
      await eventually(() => expect(run.client.state).toBe('reconnecting'));
      await put(env.server, storeId, 'while-offline', 1);
      proxy.accept();
      const back = Date.now();
      win.dispatchEvent(new Event('online'));
      await eventually(async () => expect(await replicaSnapshot(store)).toEqual({ 'while-offline': 1 }), 10_000);
      expect(Date.now() - back).toBeLessThan(10_000);
    } finally {
      await run.client.unsubscribe();
      await proxy.close();
      delete g['addEventListener'];
      delete g['removeEventListener'];
    }
  });
});
