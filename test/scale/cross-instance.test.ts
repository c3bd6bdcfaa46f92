/**
 * Two instances on one database (in this process): whatever one of them does
 * reaches the other through the database. Options changes and store
 * deletions end the other instance's feeds; the per-client session quota is
 * held in the database, so a session opened on one instance and finished on
 * the other frees its slot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNotice, encodeNotice } from '../../src/db/notices.js';
import { runFeed, type FeedSink } from '../../src/live/feed.js';
import { feedStore } from '../../src/store/feed-reads.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { ADMIN, admin, adminStore, bearer, issueToken } from '../security/support.js';

let db: TestDatabase;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  a = await startServer(db, { adminToken: ADMIN, limits: { maxSessionsPerClient: 2 } });
  b = await startServer(db, { adminToken: ADMIN, limits: { maxSessionsPerClient: 2 } });
}, 60_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

const putAdmin = (server: TestServer, storeId: string, key: string, value: unknown) =>
  call(server, `/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`, json(value, { method: 'PUT', headers: admin }));

describe('notices', () => {
  it('decode what they encode and ignore anything else', () => {
    const storeId = '58c4b668-ca6b-5f9d-8989-3a4a0ff13619';
    for (const notice of [
      { kind: 'commit', storeId, rev: 7, from: 'x' },
      { kind: 'deleted', storeId, from: 'x' },
      { kind: 'revoked', storeId, tokenId: 't', from: 'x' },
      { kind: 'options', storeId, from: 'x' },
      { kind: 'ping', from: 'x' },
    ] as const) {
      expect(decodeNotice(encodeNotice(notice))).toEqual(notice);
    }
    for (const junk of ['', `${storeId}:7`, `${storeId}:deleted`, '{"kind":"commit"}', '{"kind":"nuke","from":"x"}', '[]', 'null']) {
      expect(decodeNotice(junk)).toBeUndefined();
    }
  });
});

describe('across instances', () => {
  it('an options PATCH on one instance resets the feeds of the other', async () => {
    const storeId = await adminStore(a);
    expect((await putAdmin(a, storeId, 'a/1', 1)).status).toBe(200);
    expect((await putAdmin(a, storeId, 'b/1', 1)).status).toBe(200);
    const there = await openFeed(b, storeId, '', { headers: admin });
    await there.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));

    const patched = await call(a, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: ['a/'] } } }, { method: 'PATCH', headers: admin }));
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    await there.waitFor(({ events: evs }) => evs.some((e) => e.event === 'reset'), 10_000);
    await there.ended;
    expect(there.events.at(-1)).toMatchObject({ event: 'reset', data: { reason: 'options-changed' } });

    // A feed opened on the other instance afterwards filters with the new options.
    const again = await openFeed(b, storeId, '?since=0', { headers: admin });
    await again.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    expect((await putAdmin(a, storeId, 'b/2', 2)).status).toBe(200);
    expect((await putAdmin(a, storeId, 'a/2', 2)).status).toBe(200);
    await again.waitFor(({ events: evs }) => evs.some((e) => e.data?.key === 'a/2'));
    expect(again.events.filter((e) => e.event === 'put').map((e) => e.data.key)).toEqual(['a/1', 'a/2']);
    again.close();
  });

  it('a feed that read the options before a change it heard of only while opening ends with reset at once', async () => {
    const storeId = await adminStore(a);
    // The feed reads the store (options version 0), then the change lands on the other
    // instance and this one hears of it, all before the feed attaches.
    const heads = await feedStore(db.database.db, storeId);
    expect(heads.optionsVersion).toBe(0);
    expect((await call(a, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: ['x/'] } } }, { method: 'PATCH', headers: admin }))).status).toBe(200);
    const deadline = Date.now() + 10_000;
    while (b.keysync.hub.optionsVersion(storeId) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const written: string[] = [];
    const sink: FeedSink = {
      write: (data) => void written.push(typeof data === 'string' ? data : ('rows' in data ? data.rows : data).map((r) => r.frame).join('')),
      backlogged: () => false,
      pendingBytes: () => 0,
      drained: async () => {},
      onClose: () => {},
      terminate: () => {},
    };
    const end = await runFeed(
      db.database.db,
      b.keysync.hub,
      { storeId, since: 0, prefix: undefined, includesKey: () => true, heads, optionsVersion: heads.optionsVersion },
      sink,
    );
    expect(end).toBe('options-changed');
    expect(written.join('')).toMatch(/event: reset\ndata: \{"reason":"options-changed"/);
  });

  it('a feed that read the new options stays open when the notice of that change reaches its instance late', async () => {
    const storeId = await adminStore(a);
    expect((await call(a, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: ['x/'] } } }, { method: 'PATCH', headers: admin }))).status).toBe(200);
    const feed = await openFeed(b, storeId, '', { headers: admin });
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    // The notice of version 1 arrives (again, or for the first time) after the feed read version 1.
    b.keysync.hub.optionsChanged(storeId, 1);
    expect((await putAdmin(a, storeId, 'y/1', 1)).status).toBe(200);
    expect((await putAdmin(a, storeId, 'x/1', 1)).status).toBe(200);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.data?.key === 'x/1'), 10_000);
    expect(feed.events.map((e) => e.event)).not.toContain('reset');
    expect(feed.events.filter((e) => e.event === 'put').map((e) => e.data.key)).toEqual(['x/1']);
    // A newer version still ends it.
    b.keysync.hub.optionsChanged(storeId, 2);
    await feed.ended;
    expect(feed.events.at(-1)).toMatchObject({ event: 'reset', data: { reason: 'options-changed' } });
  });

  it('a store deleted on one instance ends the feeds of the other', async () => {
    const storeId = await adminStore(a);
    const there = await openFeed(b, storeId, '', { headers: admin });
    await there.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    expect((await call(a, `/v1/stores/${storeId}`, { method: 'DELETE', headers: admin })).status).toBe(204);
    await there.waitFor(({ events: evs }) => evs.some((e) => e.event === 'store-deleted'), 10_000);
    await there.ended;
  });

  it('writes on either instance reach the feeds of both, in rev order', async () => {
    const storeId = await adminStore(a);
    const feeds = [await openFeed(a, storeId, '', { headers: admin }), await openFeed(b, storeId, '', { headers: admin })];
    for (const f of feeds) await f.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    await Promise.all(Array.from({ length: 40 }, (_, i) => putAdmin(i % 2 ? a : b, storeId, `k${i}`, i)));
    for (const f of feeds) {
      await f.waitFor(({ events: evs }) => evs.filter((e) => e.event === 'put').length === 40, 10_000);
      const revs = f.events.filter((e) => e.event === 'put').map((e) => e.data.rev as number);
      expect(revs).toEqual([...revs].sort((x, y) => x - y));
      expect(new Set(revs).size).toBe(40);
      f.close();
    }
  });

  it('a sync session opened on one instance and finished on the other frees its per-client slot', async () => {
    const storeId = await adminStore(a);
    for (let i = 0; i < 3; i++) expect((await putAdmin(a, storeId, `k${i}`, i)).status).toBe(200);
    const token = bearer((await issueToken(a, storeId, 'read')).token);
    const handshake = (server: TestServer) => call(server, `/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 1 }, { headers: token }));

    const first = await handshake(a);
    expect(first.status).toBe(201);
    const second = await handshake(b);
    expect(second.status).toBe(201);
    // The quota (2) is the client's on every instance.
    const third = await handshake(a);
    expect(third.status, JSON.stringify(third.body)).toBe(429);
    expect(third.body.type).toMatch(/too-many-sessions$/);

    // Finish the first session on the other instance: its slot is free everywhere.
    const sessionId = first.body.sessionId as string;
    for (let cursor = 0; cursor < first.body.batches; cursor++) {
      expect((await call(b, `/v1/stores/${storeId}/sync/${sessionId}/batches/${cursor}`, { headers: token })).status).toBe(200);
      const ack = await call(b, `/v1/stores/${storeId}/sync/${sessionId}/ack`, json({ cursor }, { headers: token }));
      expect(ack.status).toBe(200);
    }
    expect((await handshake(a)).status).toBe(201);
    // Cancelling one on the other instance frees a slot too.
    expect((await call(a, `/v1/stores/${storeId}/sync/${second.body.sessionId}`, { method: 'DELETE', headers: token })).status).toBe(204);
    expect((await handshake(b)).status).toBe(201);
  });

  it('housekeeping runs on one instance at a time', async () => {
    const ran = await Promise.all([a.keysync.housekeeping(), b.keysync.housekeeping()]);
    expect(ran.filter((r) => !r.skipped).length).toBeGreaterThanOrEqual(1);
    // While one instance holds the lock the other skips its turn (PGlite: one process, no lock to contend).
    if (db.database.kind === 'postgres') {
      const during = await a.keysync.database.tryLock('housekeeping', () => b.keysync.housekeeping());
      expect(during).toEqual({ purged: 0, sessionsDropped: 0, skipped: true });
    }
  });
});
