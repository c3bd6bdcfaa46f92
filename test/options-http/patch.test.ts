import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { bulk, call, json, newStore } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { expectProblem, feedKeys, freshSync, syncAll } from './helpers.js';

let db: TestDatabase;
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  // Two server instances on one database, as behind a load balancer.
  a = await startServer(db);
  b = await startServer(db);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

const patch = (server: TestServer, storeId: string, body: unknown) => call(server, `/v1/stores/${storeId}`, json(body, { method: 'PATCH' }));
const register = (server: TestServer, options: unknown) =>
  call(server, '/v1/stores', json({ config: { scope: '00000000-0000-4000-8000-000000000000', name: `bad-${Math.random()}` }, options }));

describe('PATCH /v1/stores/{storeId} options', () => {
  it('replaces the options as a whole; the next handshake on every instance uses them', async () => {
    const storeId = await newStore(a, { filter: { prefixes: ['x/'] }, order: [{ prefix: 'x/1', rank: 1 }] });
    await bulk(
      a,
      storeId,
      ['x/1', 'x/2', 'y/1', 'y/2'].map((key) => ({ op: 'put', key, value: key })),
    );
    // Both instances compile and cache the first options.
    expect((await freshSync(a, storeId)).hs.stale).toEqual(['x/2', 'x/1']);
    expect((await freshSync(b, storeId)).hs.stale).toEqual(['x/2', 'x/1']);

    const res = await patch(a, storeId, { options: { filter: { prefixes: ['y/'] } } });
    expect(res.status).toBe(200);
    expect(res.body.options).toEqual({ filter: { prefixes: ['y/'] } }); // order is gone: replaced, not merged
    expect((await call(b, `/v1/stores/${storeId}`)).body.options).toEqual({ filter: { prefixes: ['y/'] } });

    expect((await freshSync(a, storeId)).hs.stale).toEqual(['y/1', 'y/2']);
    expect((await freshSync(b, storeId)).hs.stale).toEqual(['y/1', 'y/2']);

    // Back to no options at all: every key, rev order.
    expect((await patch(b, storeId, { options: {} })).status).toBe(200);
    expect((await freshSync(a, storeId)).hs.stale).toEqual(['x/1', 'x/2', 'y/1', 'y/2']);
  });

  it('feeds opened after a PATCH on another instance use the new filter', async () => {
    const storeId = await newStore(a, { filter: { prefixes: ['x/'] } });
    await bulk(
      a,
      storeId,
      ['x/1', 'y/1'].map((key) => ({ op: 'put', key, value: key })),
    );
    const before = await openFeed(b, storeId, '?since=0');
    await before.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    before.close();
    expect(feedKeys(before.events)).toEqual(['x/1']);

    expect((await patch(a, storeId, { options: { filter: { prefixes: ['y/'] } } })).status).toBe(200);
    const after = await openFeed(b, storeId, '?since=0');
    await after.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    await bulk(
      a,
      storeId,
      ['x/2', 'y/2'].map((key) => ({ op: 'put', key, value: key })),
    );
    await after.waitFor(({ events: evs }) => feedKeys(evs).includes('y/2'));
    after.close();
    expect(feedKeys(after.events)).toEqual(['y/1', 'y/2']);
  });

  it('sends a key the new options include again with its own (older) rev, lower than the headRev it was removed at', async () => {
    // What this means for clients: a `removed` key is not always a tombstone.
    // A client that records it as deleted at headRev would reject this entry
    // as older than what it holds; it must forget the key's rev instead.
    const storeId = await newStore(a, { filter: { prefixes: ['x/'] } });
    const [x1] = await bulk(a, storeId, [
      { op: 'put', key: 'x/1', value: 1 },
      { op: 'put', key: 'y/1', value: 1 },
    ]);
    const first = await freshSync(a, storeId);
    expect((await patch(a, storeId, { options: { filter: { prefixes: ['y/'] } } })).status).toBe(200);
    const second = await syncAll(a, storeId, { have: { 'x/1': first.entries[0]!.ts } });
    expect(second.hs.removed).toEqual(['x/1']);
    expect((await patch(a, storeId, { options: {} })).status).toBe(200);
    const third = await syncAll(a, storeId, { have: { 'y/1': second.entries[0]!.ts } });
    expect(third.entries.map((e) => [e.key, e.rev])).toEqual([['x/1', x1!.rev]]);
    expect(x1!.rev).toBeLessThan(second.hs.headRev);
  });

  it('rejects invalid options with problem+json naming the offending path', async () => {
    const storeId = await newStore(a);
    const cases: Array<[unknown, string]> = [
      [{ walk: { roots: ['root'], refs: ['children[*]'] } }, 'options.walk.refs.0'],
      [{ walk: { roots: ['root'], refs: ['$.a', '$[?(@.x)]'] } }, 'options.walk.refs.1'],
      [{ walk: { roots: [], refs: [] } }, 'options.walk.roots'],
      [{ walk: { roots: [''], refs: [] } }, 'options.walk.roots.0'],
      [
        {
          order: [
            { prefix: 'db', rank: 1 },
            { prefix: 'db', rank: 2 },
          ],
        },
        'options.order.1.prefix',
      ],
      [{ order: [{ prefix: 'db', rank: 1.5 }] }, 'options.order.0.rank'],
      [{ filter: { prefixes: 'app/' } }, 'options.filter.prefixes'],
      [{ filter: { prefix: ['app/'] } }, 'options.filter'],
      [{ walks: {} }, 'options'],
    ];
    for (const [options, path] of cases) {
      for (const res of [await patch(a, storeId, { options }), await register(a, options)]) {
        expectProblem(res, 400, 'validation');
        expect(
          res.body.errors.map((e: { path: string }) => e.path),
          JSON.stringify(res.body),
        ).toContain(path);
        expect(res.body.errors.every((e: { message: string }) => e.message.length > 0)).toBe(true);
      }
    }
    const missing = await patch(a, storeId, {});
    expectProblem(missing, 400, 'validation');
    expect(missing.body.errors[0].path).toBe('options');
    // The store kept its options.
    expect((await call(a, `/v1/stores/${storeId}`)).body.options).toEqual({});
  });

  it('answers 404 problem+json for an unknown store', async () => {
    expectProblem(await patch(a, '00000000-0000-5000-8000-000000000000', { options: {} }), 404, 'not-found');
  });
});
