/**
 * The sync loop's ordering against a fake server that follows the contract
 * (support/fake-server.ts). End-to-end behaviour against the real server is
 * tested elsewhere; these pin down what must hold whatever the server does:
 * apply before ack, the window, checkpoint timing, fallbacks and the feed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProblemError, ProtocolError, StoreDeletedError, TokenRevokedError } from '../src/errors.js';
import type { LocalStore } from '../src/local-store.js';
import type { Change } from '../src/records.js';
import { MemoryStore } from '../src/stores/memory.js';
import { type SyncClient, subscribe, type SubscribeOptions } from '../src/sync-client.js';
import { entryFrame, FakeServer } from './support/fake-server.js';

const clients: SyncClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.unsubscribe();
});

function start(server: FakeServer, store: LocalStore, extra: Partial<SubscribeOptions> = {}) {
  const changes: Change[] = [];
  const errors: Error[] = [];
  const completed = vi.fn();
  const client = subscribe({
    baseUrl: 'http://keysync.test',
    token: 'secret',
    fetch: server.fetch,
    storeId: 'store-1',
    store,
    backoff: { random: () => 0 },
    onChange: (c) => changes.push(c),
    onError: (e) => errors.push(e),
    onComplete: completed,
    ...extra,
  });
  clients.push(client);
  return { client, changes, errors, completed };
}

const handshakes = (s: FakeServer) => s.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/sync'));

describe('sync loop', () => {
  it('applies each batch to the store before acking it, in cursor order', async () => {
    const server = new FakeServer();
    for (let i = 0; i < 7; i++) server.put(`k${i}`, i);
    const store = new MemoryStore();
    const acked: number[] = [];
    const missingAtAck: string[] = [];
    // Recorded, not thrown: a throw here would look like a network failure
    // to the client, which would retry the ack and hide the violation.
    server.onAck = async (cursor, keys) => {
      for (const key of keys) if (!(await store.get(key))) missingAtAck.push(`${key} at ack ${cursor}`);
      acked.push(cursor);
    };
    const { completed, client } = start(server, store);
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(missingAtAck).toEqual([]);
    expect(acked).toEqual([0, 1, 2, 3]);
    expect(server.calls.filter((c) => c.path.endsWith('/ack'))).toHaveLength(4);
    expect(client.progress).toEqual({ done: 4, total: 4 });
  });

  it('fetches up to window batches ahead and never more', async () => {
    const server = new FakeServer();
    server.window = 2;
    for (let i = 0; i < 10; i++) server.put(`k${i}`, i);
    let fetched = -1;
    let acked = -1;
    let maxAhead = 0;
    server.onBatch = (_sid, cursor) => {
      fetched = Math.max(fetched, cursor);
      maxAhead = Math.max(maxAhead, fetched - acked);
    };
    server.onAck = async (cursor) => {
      // Give the client time to prefetch: a window of 2 must show up here.
      await new Promise((r) => setTimeout(r, 5));
      acked = cursor;
    };
    const { completed } = start(server, new MemoryStore());
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(maxAhead).toBe(2);
    // The client kept to the window by itself: the server never had to refuse.
    expect(server.calls.filter((c) => c.status === 409)).toEqual([]);
  });

  it('applies the next fetched batch while the previous ack is on the wire (window > 1), acks still in order', async () => {
    const server = new FakeServer();
    server.window = 3;
    for (let i = 0; i < 12; i++) server.put(`k${i}`, i);
    const store = new MemoryStore();
    const acked: number[] = [];
    let overlapped = 0;
    server.onAck = async (cursor) => {
      // While this ack is held, the batch after it (already fetched) must get applied.
      const nextKeys = [`k${2 * cursor + 2}`, `k${2 * cursor + 3}`];
      for (let i = 0; i < 50 && cursor < 5; i++) {
        if ((await Promise.all(nextKeys.map((k) => store.get(k)))).every(Boolean)) {
          overlapped++;
          break;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      acked.push(cursor);
    };
    const { completed } = start(server, store);
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(acked).toEqual([0, 1, 2, 3, 4, 5]);
    expect(overlapped).toBe(5);
    expect(server.calls.filter((c) => c.status === 409)).toEqual([]);
  });

  it('with window 1 fetches batch c+1 only after the ack of c is answered', async () => {
    const server = new FakeServer();
    for (let i = 0; i < 6; i++) server.put(`k${i}`, i);
    const order: string[] = [];
    server.onBatch = (_sid, cursor) => void order.push(`fetch ${cursor}`);
    server.onAck = async (cursor) => {
      await new Promise((r) => setTimeout(r, 3));
      order.push(`ack ${cursor}`);
    };
    const { completed } = start(server, new MemoryStore());
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(order).toEqual(['fetch 0', 'ack 0', 'fetch 1', 'ack 1', 'fetch 2', 'ack 2']);
  });

  it('sets the checkpoint to headRev only after the last ack, then opens the feed from headRev', async () => {
    const server = new FakeServer();
    for (let i = 0; i < 3; i++) server.put(`k${i}`, i);
    const store = new MemoryStore();
    const checkpoints: (number | undefined)[] = [];
    server.onAck = async () => void checkpoints.push(await store.getCheckpoint());
    const { completed } = start(server, store);
    await vi.waitFor(() => expect(server.feeds).toHaveLength(1));
    expect(checkpoints).toEqual([undefined, undefined]);
    expect(await store.getCheckpoint()).toBe(3);
    expect(completed).toHaveBeenCalledTimes(1);
    const feed = server.feeds[0]!;
    expect(feed.url.searchParams.get('since')).toBe('3');
    expect(feed.headers.get('accept')).toBe('text/event-stream');
    expect(feed.headers.get('authorization')).toBe('Bearer secret');
    expect(feed.headers.get('last-event-id')).toBeNull();
  });

  it('reports every synced key once through onChange and per-key listeners', async () => {
    const server = new FakeServer();
    server.put('a', 1);
    server.put('b', { x: 2 });
    const { client, changes, completed } = start(server, new MemoryStore());
    const onB = vi.fn();
    client.on('b', onB);
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(changes.map((c) => [c.key, c.op, c.value, c.rev])).toEqual([
      ['a', 'put', 1, 1],
      ['b', 'put', { x: 2 }, 2],
    ]);
    expect(onB).toHaveBeenCalledTimes(1);
  });

  it('handshakes with since when it has a checkpoint and deletes the removed keys', async () => {
    const server = new FakeServer();
    server.put('a', 1);
    server.put('b', 2);
    const store = new MemoryStore();
    await store.applyBatch([{ kind: 'json', key: 'a', rev: 1, ts: server.entries.get('a')!.ts, value: 1 }], { checkpoint: 2 });
    server.del('a');
    server.put('c', 3);
    const { changes, completed } = start(server, store);
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(handshakes(server)[0]!.body).toEqual({ since: 2, batchSize: 2000, listStale: false, inline: true });
    expect(await store.get('a')).toEqual({ kind: 'deleted', key: 'a', rev: 0, ts: null });
    expect(changes.map((c) => `${c.op} ${c.key}`)).toEqual(['delete a', 'put c']);
  });

  it('asks again without inline, and no more after, when the server is older than the inline batch (400 naming it)', async () => {
    const server = new FakeServer();
    server.refusesInline = true;
    server.put('a', 1);
    server.put('b', 2);
    const store = new MemoryStore();
    await store.applyBatch([{ kind: 'json', key: 'a', rev: 1, ts: server.entries.get('a')!.ts, value: 1 }], { checkpoint: 1 });
    const { client, errors, completed } = start(server, store);
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(errors).toEqual([]);
    expect(handshakes(server).map((c) => [c.body, c.status])).toEqual([
      [{ since: 1, batchSize: 2000, listStale: false, inline: true }, 400],
      [{ since: 1, batchSize: 2000, listStale: false }, 201],
    ]);
    expect((await store.get('b'))?.rev).toBe(2);
    // A reset later: the same client does not ask for it again.
    server.put('c', 3);
    server.feeds.at(-1)!.push('event: reset\ndata: {"reason":"since-purged"}\n\n');
    await vi.waitFor(() => expect(handshakes(server)).toHaveLength(3));
    expect(handshakes(server)[2]!.body).not.toHaveProperty('inline');
    await client.unsubscribe();
  });

  it('refuses an inline batch of a session that has none, or several, and applies nothing of it', async () => {
    for (const batches of [0, 2]) {
      const server = new FakeServer();
      server.put('a', 1);
      server.alterHandshake = (answer) => ({ ...answer, batches, batch: { cursor: 0, entries: [server.entries.get('a')], next: null } });
      const store = new MemoryStore();
      const { errors, completed } = start(server, store);
      await vi.waitFor(() => expect(errors).toHaveLength(1));
      expect(errors[0]).toBeInstanceOf(ProtocolError);
      expect(errors[0]!.message).toContain(`an inline batch 0 of a session of ${batches} batches`);
      expect(completed).not.toHaveBeenCalled();
      expect(await store.get('a')).toBeUndefined();
    }
  });

  it('falls back to a have handshake when since is purged', async () => {
    const server = new FakeServer();
    server.put('a', 1);
    server.put('b', 2);
    server.purgedRev = 2;
    const store = new MemoryStore();
    await store.applyBatch([{ kind: 'json', key: 'a', rev: 1, ts: server.entries.get('a')!.ts, value: 1 }], { checkpoint: 1 });
    const { completed } = start(server, store);
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(handshakes(server).map((c) => c.body)).toEqual([
      { since: 1, batchSize: 2000, listStale: false, inline: true },
      { have: { a: server.entries.get('a')!.ts }, batchSize: 2000, listStale: false, inline: true },
    ]);
    expect((await store.get('b'))?.rev).toBe(2);
  });

  it('sends the same have handshake for a store without haveJson (the map as an object)', async () => {
    const server = new FakeServer();
    server.put('a', 1);
    server.put('b', 2);
    const store = new MemoryStore();
    // A LocalStore of one's own need not write the map as text.
    Object.defineProperty(store, 'haveJson', { value: undefined });
    await store.applyBatch([{ kind: 'json', key: 'a', rev: 1, ts: server.entries.get('a')!.ts, value: 1 }]);
    const { completed } = start(server, store);
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(handshakes(server).map((c) => c.body)).toEqual([{ have: { a: server.entries.get('a')!.ts }, batchSize: 2000, listStale: false, inline: true }]);
    expect((await store.get('b'))?.rev).toBe(2);
  });

  it('forgets its revisions and resyncs with have when the server is behind it', async () => {
    const server = new FakeServer();
    server.put('a', 'restored');
    const store = new MemoryStore();
    // We saw rev 9 of a lineage the server lost (restored from backup).
    await store.applyBatch([{ kind: 'json', key: 'a', rev: 9, ts: 'old-ts', value: 'lost' }], { checkpoint: 9 });
    const { completed } = start(server, store);
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(await store.get('a')).toMatchObject({ rev: 1, value: 'restored' });
    expect(await store.getCheckpoint()).toBe(1);
  });

  it('handshakes again when its session expires, and reports each change once', async () => {
    const server = new FakeServer();
    for (let i = 0; i < 6; i++) server.put(`k${i}`, i);
    let expired = false;
    server.onBatch = (_sid, cursor) => {
      if (cursor === 1 && !expired) {
        expired = true;
        server.expireSessions();
      }
    };
    const { changes, completed } = start(server, new MemoryStore());
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(handshakes(server)).toHaveLength(2);
    expect(changes.map((c) => c.key).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
  });

  it('retries a failed batch fetch with backoff instead of giving up', async () => {
    const server = new FakeServer();
    server.put('a', 1);
    server.failNext.push({ match: /GET .*\/batches\//, status: 503, kind: 'unavailable' });
    const states: string[] = [];
    const { completed } = start(server, new MemoryStore(), { onStateChange: (s) => states.push(s) });
    await vi.waitFor(() => expect(completed).toHaveBeenCalled());
    expect(states.slice(0, 3)).toEqual(['syncing', 'reconnecting', 'syncing']);
    expect(server.calls.filter((c) => c.status === 503)).toHaveLength(1);
  });

  it('stops with a ProblemError on 403 without retrying', async () => {
    const server = new FakeServer();
    server.failNext.push({ match: /POST .*\/sync$/, status: 403, kind: 'forbidden' });
    const { client, errors } = start(server, new MemoryStore());
    await vi.waitFor(() => expect(client.state).toBe('stopped'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ProblemError);
    expect((errors[0] as ProblemError).status).toBe(403);
    expect(handshakes(server)).toHaveLength(1);
  });
});

describe('live feed', () => {
  async function live() {
    const server = new FakeServer();
    server.put('a', 1);
    const store = new MemoryStore();
    const run = start(server, store);
    await vi.waitFor(() => expect(server.feeds).toHaveLength(1));
    return { server, store, ...run, feed: server.feeds[0]! };
  }

  it('goes live on ready and applies put and delete events through the rev guard', async () => {
    const { server, store, client, changes, feed } = await live();
    feed.push('event: ready\ndata: {"headRev":1}\n\n');
    await vi.waitFor(() => expect(client.state).toBe('live'));
    const stale = { ...server.entries.get('a')! };
    const b = server.put('b', 2);
    const delA = server.del('a');
    feed.push(entryFrame(stale) + entryFrame(b) + entryFrame(delA));
    await vi.waitFor(() => expect(changes.map((c) => `${c.op} ${c.key}`)).toEqual(['put a', 'put b', 'delete a']));
    expect(await store.getCheckpoint()).toBe(3);
  });

  it('moves the checkpoint on heartbeat ids and reconnects with Last-Event-ID after EOF', async () => {
    const { server, store, client, feed } = await live();
    feed.push('event: ready\ndata: {"headRev":1}\n\n: ping\nid: 20\n\n');
    await vi.waitFor(async () => expect(await store.getCheckpoint()).toBe(20));
    feed.close();
    await vi.waitFor(() => expect(server.feeds).toHaveLength(2));
    expect(client.state).toBe('reconnecting');
    expect(server.feeds[1]!.headers.get('last-event-id')).toBe('20');
    server.feeds[1]!.push('event: ready\ndata: {"headRev":20}\n\n');
    await vi.waitFor(() => expect(client.state).toBe('live'));
  });

  it('handshakes again with have on reset', async () => {
    const { server, completed, feed } = await live();
    feed.push('event: reset\ndata: {}\n\n');
    feed.close();
    await vi.waitFor(() => expect(server.feeds).toHaveLength(2));
    const hs = handshakes(server);
    expect(hs).toHaveLength(2);
    expect(hs[1]!.body).toEqual({ have: { a: server.entries.get('a')!.ts }, batchSize: 2000, listStale: false, inline: true });
    expect(completed).toHaveBeenCalledTimes(1);
  });

  it('stops and reports StoreDeletedError on store-deleted', async () => {
    const { client, errors, feed } = await live();
    feed.push('event: store-deleted\ndata: {}\n\n');
    await vi.waitFor(() => expect(client.state).toBe('stopped'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoreDeletedError);
  });

  it('stops and reports TokenRevokedError on revoked, without reconnecting', async () => {
    const { client, errors, feed, server } = await live();
    const feedsBefore = server.feeds.length;
    feed.push('event: revoked\ndata: {}\n\n');
    await vi.waitFor(() => expect(client.state).toBe('stopped'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TokenRevokedError);
    expect(server.feeds).toHaveLength(feedsBefore);
  });

  it('stops quietly on unsubscribe and closes the feed', async () => {
    const { client, errors, feed } = await live();
    await client.unsubscribe();
    expect(client.state).toBe('stopped');
    expect(feed.closed).toBe(true);
    expect(errors).toEqual([]);
  });

  it('keeps running when a listener throws, reporting a CallbackError', async () => {
    const { client, errors, changes, server, feed } = await live();
    client.on('b', () => {
      throw new Error('boom');
    });
    feed.push(entryFrame(server.put('b', 1)) + entryFrame(server.put('c', 1)));
    await vi.waitFor(() => expect(changes.map((c) => c.key)).toContain('c'));
    expect(errors.map((e) => e.name)).toEqual(['CallbackError']);
    expect(client.state).not.toBe('stopped');
  });
});
