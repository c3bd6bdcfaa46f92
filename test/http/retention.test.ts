import { describe, expect, it } from 'vitest';
import { call, del, json, keyPath, newStore, put } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import { startServer, useTestServer } from '../support/server.js';
import { openFeed, type Feed } from '../support/sse.js';

const env = useTestServer({ limits: { tombstoneRetentionMs: 0 } });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const listed = async (id: string) => (await call(env.server, `/v1/stores/${id}/keys?limit=1000`)).body.items as Array<{ key: string; deleted?: true }>;
const handshake = (id: string, body: unknown) => call(env.server, `/v1/stores/${id}/sync`, json(body));

async function closedWithin(feed: Feed, ms: number): Promise<void> {
  await Promise.race([feed.ended, sleep(ms).then(() => Promise.reject(new Error(`feed still open; events: ${JSON.stringify(feed.events)}`)))]);
}

/** A store with puts a (1), b (2), c (3), then b deleted (4) and d put (5); tombstones purged. */
async function purgedStore(): Promise<string> {
  const id = await newStore(env.server);
  await put(env.server, id, 'a', 1);
  await put(env.server, id, 'b', 2);
  await put(env.server, id, 'c', 3);
  await del(env.server, id, 'b');
  await put(env.server, id, 'd', 4);
  await sleep(5); // the purge cutoff is "older than now - retention", at millisecond resolution
  const { purged } = await env.server.keysync.housekeeping();
  expect(purged).toBeGreaterThanOrEqual(1);
  return id;
}

describe('tombstone retention', () => {
  it('purges tombstones older than the retention from the key listing, leaving live keys', async () => {
    const id = await purgedStore();
    expect((await listed(id)).map((m) => m.key)).toEqual(['a', 'c', 'd']);
    expectProblem(await call(env.server, keyPath(id, 'b')), 404, 'not-found');
    expectProblem(await call(env.server, keyPath(id, 'b'), { method: 'DELETE' }), 404, 'not-found');
    expect((await call(env.server, `/v1/stores/${id}`)).body.headRev).toBe(5);
    expect((await put(env.server, id, 'b', 'back')).rev).toBe(6);
  });

  it('keeps tombstones younger than the retention', async () => {
    const keeping = await startServer(env.db, { limits: { tombstoneRetentionMs: 3_600_000 } });
    try {
      const id = await newStore(keeping);
      await put(keeping, id, 'x', 1);
      await del(keeping, id, 'x');
      await sleep(5);
      await keeping.keysync.housekeeping();
      const items = (await call(keeping, `/v1/stores/${id}/keys`)).body.items;
      expect(items).toEqual([expect.objectContaining({ key: 'x', deleted: true })]);
      expect((await handshake(id, { since: 0 })).status).toBe(201);
    } finally {
      await keeping.close();
    }
  });

  it('answers a since handshake older than the purged rev with 409 since-purged, and serves since at or after it', async () => {
    const id = await purgedStore();
    for (const since of [0, 1, 3]) expectProblem(await handshake(id, { since }), 409, 'since-purged');
    const atPurged = await handshake(id, { since: 4 });
    expect(atPurged.status).toBe(201);
    expect(atPurged.body.stale).toEqual(['d']);
    expect((await handshake(id, { since: 5 })).status).toBe(201);
  });

  it('answers a digest handshake whose digests are older than the purged rev with 409 since-purged, and serves one at it', async () => {
    const id = await purgedStore();
    const basis = { optionsVersion: 0, buckets: 1, listed: [] };
    // A tombstone purged after rev 3 could not tell such a replica that b was deleted.
    expectProblem(await handshake(id, { have: {}, digest: { ...basis, rev: 3 } }), 409, 'since-purged');
    const atPurged = await handshake(id, { have: {}, digest: { ...basis, rev: 4 } });
    expect(atPurged.status).toBe(201);
    expect(atPurged.body.stale).toEqual(['d']);
  });

  it('still tells a have handshake that a purged key is removed', async () => {
    const id = await purgedStore();
    const hs = await handshake(id, { have: { a: '2000-01-01T00:00:00.000000Z', b: '2000-01-01T00:00:00.000000Z' } });
    expect(hs.status).toBe(201);
    expect(hs.body.removed).toEqual(['b']);
    expect([...hs.body.stale].sort()).toEqual(['a', 'c', 'd']);
  });

  it('sends event: reset (since-purged) and closes a live feed whose since is older than the purged rev', async () => {
    const id = await purgedStore();
    const feed = await openFeed(env.server, id, '?since=2');
    expect(feed.status).toBe(200);
    await closedWithin(feed, 5000);
    expect(feed.events.map((e) => e.event)).toEqual(['reset']);
    expect(feed.events[0]!.data).toMatchObject({ reason: 'since-purged', headRev: 5, purgedRev: 4 });
  });

  it('applies the same reset to Last-Event-ID', async () => {
    const id = await purgedStore();
    const feed = await openFeed(env.server, id, '?since=5', { headers: { 'last-event-id': '1' } });
    await closedWithin(feed, 5000);
    expect(feed.events.map((e) => e.event)).toEqual(['reset']);
  });

  it('serves a live feed whose since is at the purged rev', async () => {
    const id = await purgedStore();
    const feed = await openFeed(env.server, id, '?since=4');
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    feed.close();
    expect(feed.events.map((e) => [e.event, e.id])).toEqual([
      ['put', '5'],
      ['ready', undefined],
    ]);
  });
});

describe('since ahead of the head', () => {
  it('answers a since handshake beyond headRev with 409 since-ahead', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'a', 1);
    expectProblem(await handshake(id, { since: 2 }), 409, 'since-ahead');
    expect((await handshake(id, { since: 1 })).status).toBe(201);
  });

  it('sends event: reset (since-ahead) and closes a live feed whose since is beyond the head', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'a', 1);
    const feed = await openFeed(env.server, id, '?since=7');
    await closedWithin(feed, 5000);
    expect(feed.events.map((e) => e.event)).toEqual(['reset']);
    expect(feed.events[0]!.data).toMatchObject({ reason: 'since-ahead', headRev: 1 });
  });
});
