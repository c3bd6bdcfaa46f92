import { describe, expect, it } from 'vitest';
import { bulk, call, del, json, newStore, put } from '../support/http.js';
import { Replica, serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import { eventually, replicaSnapshot, start } from '../client/support.js';
import { feedKeys, freshSync, passesFilter, subset, syncAll } from './helpers.js';

const env = useTestServer();

const filter = { prefixes: ['app/', 'db'], excludePrefixes: ['app/tmp/'] };
const KEYS = ['app/a', 'app/b', 'app/tmp/x', 'other/1', 'db', 'dbx', 'ap', 'app/tmp', 'app/tmp/y/z'];
const SYNCED = ['app/a', 'app/b', 'db', 'dbx', 'app/tmp'];

async function filteredStore(): Promise<string> {
  const storeId = await newStore(env.server, { filter });
  await bulk(
    env.server,
    storeId,
    KEYS.map((key, i) => ({ op: 'put', key, value: { i } })),
  );
  return storeId;
}

describe('options.filter over HTTP', () => {
  it('limits the stale list and the batches of a fresh handshake to the filtered keys', async () => {
    const storeId = await filteredStore();
    const { hs, entries } = await freshSync(env.server, storeId, { batchSize: 2 });
    expect(hs.stale).toEqual(SYNCED);
    expect(hs.removed).toEqual([]);
    expect(entries.map((e) => e.key)).toEqual(SYNCED);
    expect(hs.batches).toBe(3);

    const replica = new Replica();
    await replica.sync(env.server, storeId);
    expect(replica.snapshot()).toEqual(subset(await serverSnapshot(env.server, storeId), (k) => passesFilter(k, filter)));
  });

  it('reports held keys outside the filter as removed on a have handshake', async () => {
    const storeId = await filteredStore();
    const first = await freshSync(env.server, storeId);
    const tsOf = new Map(first.entries.map((e) => [e.key, e.ts]));
    const have = {
      'app/a': tsOf.get('app/a')!,
      'other/1': '2020-01-01T00:00:00.000000Z',
      'app/tmp/x': '2020-01-01T00:00:00.000000Z',
      gone: '2020-01-01T00:00:00.000000Z',
    };
    const { hs } = await syncAll(env.server, storeId, { have });
    expect(hs.stale).toEqual(SYNCED.filter((k) => k !== 'app/a'));
    expect([...hs.removed].sort()).toEqual(['app/tmp/x', 'gone', 'other/1']);
  });

  it('reports only the tombstones of filtered keys on a since handshake', async () => {
    const storeId = await filteredStore();
    const { hs: first } = await freshSync(env.server, storeId);
    await del(env.server, storeId, 'other/1');
    await del(env.server, storeId, 'app/b');
    await del(env.server, storeId, 'app/tmp/x');
    await put(env.server, storeId, 'app/c', 1);
    await put(env.server, storeId, 'zzz', 1);
    const { hs, entries } = await syncAll(env.server, storeId, { since: first.headRev });
    expect(hs.stale).toEqual(['app/c']);
    expect(hs.removed).toEqual(['app/b']);
    expect(entries.map((e) => e.key)).toEqual(['app/c']);
  });

  it('combines the request prefix with the store filter', async () => {
    const storeId = await filteredStore();
    const { hs } = await freshSync(env.server, storeId, { prefix: 'app/' });
    expect(hs.stale).toEqual(['app/a', 'app/b', 'app/tmp']);
  });

  it('never sends filtered keys on the live feed, neither in the backlog nor live', async () => {
    const storeId = await filteredStore();
    const feed = await openFeed(env.server, storeId, '?since=0');
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    expect(feedKeys(feed.events)).toEqual(SYNCED);

    await bulk(env.server, storeId, [
      { op: 'put', key: 'other/2', value: 1 },
      { op: 'put', key: 'app/tmp/q', value: 1 },
      { op: 'put', key: 'app/live', value: 1 },
      { op: 'delete', key: 'other/1' },
      { op: 'delete', key: 'app/a' },
    ]);
    await put(env.server, storeId, 'db', 'last');
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'put' && e.data.value === 'last'));
    feed.close();
    const keys = feedKeys(feed.events);
    expect(keys.every((k) => passesFilter(k, filter))).toBe(true);
    expect(keys.slice(SYNCED.length)).toEqual(['app/live', 'app/a', 'db']);
    const ids = feed.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('ends open feeds with reset (reason options-changed) when the options are replaced', async () => {
    const storeId = await filteredStore();
    const feed = await openFeed(env.server, storeId, '?since=0');
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    const patched = await call(env.server, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: ['other/'] } } }, { method: 'PATCH' }));
    expect(patched.status).toBe(200);
    await feed.ended;
    const last = feed.events[feed.events.length - 1]!;
    expect(last.event).toBe('reset');
    expect(last.data).toMatchObject({ reason: 'options-changed' });
  });

  it('brings a live TypeScript client to the new filter after the options change', async () => {
    const storeId = await filteredStore();
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store });
    await run.completed;
    await eventually(() => expect(run.client.state).toBe('live'));
    expect(Object.keys(await replicaSnapshot(store)).sort()).toEqual([...SYNCED].sort());

    const next = { prefixes: ['other/', 'app/tmp/'] };
    await call(env.server, `/v1/stores/${storeId}`, json({ options: { filter: next } }, { method: 'PATCH' }));
    await put(env.server, storeId, 'other/after', 1);
    const expected = subset(await serverSnapshot(env.server, storeId), (key) => passesFilter(key, next));
    await eventually(async () => expect(await replicaSnapshot(store)).toEqual(expected));
    expect(run.errors).toEqual([]);
    await run.client.unsubscribe();
  });

  it('delivers a multi-key write on the live feed in op order, with consecutive revs', async () => {
    const storeId = await newStore(env.server);
    const feed = await openFeed(env.server, storeId);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    const ops = ['n3', 'n1', 'n2', 'n0', 'db'].map((key) => ({ op: 'put', key, value: { key } }));
    const results = await bulk(env.server, storeId, ops);
    await feed.waitFor(({ events: evs }) => feedKeys(evs).includes('db'));
    feed.close();
    expect(feedKeys(feed.events)).toEqual(['n3', 'n1', 'n2', 'n0', 'db']);
    const revs = feed.events.filter((e) => e.event === 'put').map((e) => e.data.rev);
    expect(revs).toEqual(results.map((r) => r.rev));
    expect(revs).toEqual(revs.map((_, i) => revs[0] + i));
  });

  it('leaves out of later batches the keys that options replaced since the handshake exclude', async () => {
    const storeId = await filteredStore();
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 1 }));
    expect(hs.body.stale).toEqual(SYNCED);
    const patched = await call(env.server, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: ['db'] } } }, { method: 'PATCH' }));
    expect(patched.status).toBe(200);
    const delivered: string[] = [];
    for (let cursor = 0; cursor < hs.body.batches; cursor++) {
      const batch = await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/${cursor}`);
      expect(batch.status).toBe(200);
      delivered.push(...batch.body.entries.map((e: { key: string }) => e.key));
      expect((await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/ack`, json({ cursor }))).status).toBe(200);
    }
    expect(delivered).toEqual(['db', 'dbx']);
  });

  it('applies options that another server instance set (this one still thinks the store is open)', async () => {
    const storeId = await newStore(env.server);
    await bulk(
      env.server,
      storeId,
      ['a1', 'b1', 'a2', 'b2'].map((key) => ({ op: 'put', key, value: key })),
    );
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 2 }));
    expect(hs.body.stale).toEqual(['a1', 'b1', 'a2', 'b2']);
    // Written straight to the database, as another instance's PATCH would: this instance's cache is not told.
    const { sql } = await import('drizzle-orm');
    await env.server.keysync.database.db.execute(sql`update stores set options = '{"filter":{"prefixes":["a"]}}'::jsonb where id = ${storeId}::uuid`);
    const delivered: string[] = [];
    for (let cursor = 0; cursor < hs.body.batches; cursor++) {
      const batch = await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/${cursor}`);
      delivered.push(...batch.body.entries.map((e: { key: string }) => e.key));
      await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/ack`, json({ cursor }));
    }
    expect(delivered).toEqual(['a1', 'a2']);
  });
});
