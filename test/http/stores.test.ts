import { describe, expect, it } from 'vitest';
import { storeId as deriveStoreId } from '@keysync/protocol';
import { call, json, keyPath, newStore, put } from '../support/http.js';
import { TS_FORMAT, expectProblem, expectValidation } from '../support/problem.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';

const env = useTestServer();

const VECTOR_CONFIG = { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', backend: 'file', path: 'data/my-store' };
const VECTOR_ID = '58c4b668-ca6b-5f9d-8989-3a4a0ff13619';
const SCOPE = '00000000-0000-4000-8000-000000000000';

describe('registering a store', () => {
  it('answers 201 with the store whose id is the API.md test vector', async () => {
    const res = await call(env.server, '/v1/stores', json({ config: VECTOR_CONFIG }));
    expect(res.status).toBe(201);
    expect(res.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({ storeId: VECTOR_ID, config: VECTOR_CONFIG, options: {}, headRev: 0, createdAt: expect.stringMatching(TS_FORMAT) });
  });

  it('answers 200 with the same store when the same config is registered again, in any key order', async () => {
    const first = await call(env.server, `/v1/stores/${VECTOR_ID}`);
    expect(first.status).toBe(200);
    const again = await call(env.server, '/v1/stores', json({ config: { path: 'data/my-store', backend: 'file', scope: VECTOR_CONFIG.scope } }));
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
  });

  it('keeps the options of the first registration when the config is registered again with other options', async () => {
    const config = { scope: SCOPE, name: 'idempotent-options' };
    const created = await call(env.server, '/v1/stores', json({ config, options: { filter: { prefixes: ['a/'] } } }));
    expect(created.status).toBe(201);
    expect(created.body.options).toEqual({ filter: { prefixes: ['a/'] } });
    const again = await call(env.server, '/v1/stores', json({ config, options: { filter: { prefixes: ['b/'] } } }));
    expect(again.status).toBe(200);
    expect(again.body.options).toEqual({ filter: { prefixes: ['a/'] } });
  });

  it('rejects a config without scope with 400 naming config.scope', async () => {
    const res = await call(env.server, '/v1/stores', json({ config: { backend: 'file' } }));
    expectValidation(res, 'config.scope');
  });

  it('rejects a config whose scope is not a UUID with 400 naming config.scope', async () => {
    for (const scope of ['not-a-uuid', 42, '', null]) {
      const res = await call(env.server, '/v1/stores', json({ config: { scope } }));
      expectValidation(res, 'config.scope');
    }
  });

  it('rejects a body without config, or a config that is not an object, with 400 naming config', async () => {
    expectValidation(await call(env.server, '/v1/stores', json({})), 'config');
    expectValidation(await call(env.server, '/v1/stores', json({ config: 'x' })), 'config');
    expectValidation(await call(env.server, '/v1/stores', json({ config: [SCOPE] })), 'config');
  });

  it('rejects invalid options at registration with 400 naming the offending path, and registers nothing', async () => {
    const config = { scope: SCOPE, name: 'bad-options' };
    const res = await call(env.server, '/v1/stores', json({ config, options: { order: [{ prefix: 'db', rank: 'high' }] } }));
    expectValidation(res, 'options.order.0.rank');
    expectProblem(await call(env.server, `/v1/stores/${deriveStoreId(config)}`), 404, 'not-found');
  });
});

describe('reading and listing stores', () => {
  it('gets a store with storeId, config, options, headRev and createdAt, headRev following writes', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'a', 1);
    await put(env.server, id, 'b', 2);
    const res = await call(env.server, `/v1/stores/${id}`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['config', 'createdAt', 'headRev', 'options', 'storeId']);
    expect(res.body).toMatchObject({ storeId: id, headRev: 2, options: {} });
    expect(res.body.createdAt).toMatch(TS_FORMAT);
  });

  it('lists every store exactly once in id order across pages, the last page with next null', async () => {
    const mine = [await newStore(env.server), await newStore(env.server), await newStore(env.server)];
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const q = new URLSearchParams({ limit: '2', ...(after ? { after } : {}) });
      const page = await call(env.server, `/v1/stores?${q}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const item of page.body.items) expect(Object.keys(item).sort()).toEqual(['config', 'createdAt', 'headRev', 'options', 'storeId']);
      seen.push(...page.body.items.map((s: { storeId: string }) => s.storeId));
      pages++;
      if (page.body.next === null) break;
      expect(page.body.next).toBe(page.body.items.at(-1).storeId);
      after = page.body.next;
    }
    expect(pages).toBeGreaterThan(1);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(seen);
    for (const id of mine) expect(seen).toContain(id);
    const all = await call(env.server, '/v1/stores?limit=1000');
    expect(all.body.items.map((s: { storeId: string }) => s.storeId)).toEqual(seen);
    expect(all.body.next).toBeNull();
  });

  it('rejects a list limit outside 1..1000 or an after that is not a store id with 400', async () => {
    for (const limit of ['0', '1001', 'abc', '-1']) expectValidation(await call(env.server, `/v1/stores?limit=${limit}`), 'limit');
    expectValidation(await call(env.server, '/v1/stores?after=not-a-uuid'), 'after');
  });
});

describe('changing sync options', () => {
  it('replaces the options as a whole and GET shows them', async () => {
    const id = await newStore(env.server, { filter: { prefixes: ['old/'] } });
    const options = {
      filter: { prefixes: ['users/', 'db/'], excludePrefixes: ['users/tmp/'] },
      order: [{ prefix: 'db', rank: 1 }],
      walk: { roots: ['root'], refs: ['$.children[*]', '$..address'] },
    };
    const res = await call(env.server, `/v1/stores/${id}`, json({ options }, { method: 'PATCH' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ storeId: id, options });
    expect((await call(env.server, `/v1/stores/${id}`)).body.options).toEqual(options);
    const cleared = await call(env.server, `/v1/stores/${id}`, json({ options: {} }, { method: 'PATCH' }));
    expect(cleared.status).toBe(200);
    expect((await call(env.server, `/v1/stores/${id}`)).body.options).toEqual({});
  });

  it('rejects invalid options with 400 naming the offending path and leaves the options unchanged', async () => {
    const id = await newStore(env.server, { filter: { prefixes: ['keep/'] } });
    const patch = (options: unknown) => call(env.server, `/v1/stores/${id}`, json({ options }, { method: 'PATCH' }));
    expectValidation(await patch({ filter: { prefixes: 'users/' } }), 'options.filter.prefixes');
    expectValidation(await patch({ order: [{ prefix: 'db', rank: 1.5 }] }), 'options.order.0.rank');
    expectValidation(await patch({ walk: { roots: ['r'], refs: ['$[?(@.x)]'] } }), 'options.walk.refs.0');
    expectValidation(await patch({ filter: { prefixes: ['a'], bogus: true } }), /^options\.filter/);
    expectValidation(await call(env.server, `/v1/stores/${id}`, json({}, { method: 'PATCH' })), 'options');
    expect((await call(env.server, `/v1/stores/${id}`)).body.options).toEqual({ filter: { prefixes: ['keep/'] } });
  });
});

describe('deleting a store', () => {
  it('answers 204, then 404 for the store, its keys and a second delete', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'k', 'v');
    const res = await call(env.server, `/v1/stores/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expectProblem(await call(env.server, `/v1/stores/${id}`), 404, 'not-found');
    expectProblem(await call(env.server, keyPath(id, 'k')), 404, 'not-found');
    expectProblem(await call(env.server, `/v1/stores/${id}/keys`), 404, 'not-found');
    expectProblem(await call(env.server, `/v1/stores/${id}`, { method: 'DELETE' }), 404, 'not-found');
    expect((await call(env.server, '/v1/stores?limit=1000')).body.items.map((s: { storeId: string }) => s.storeId)).not.toContain(id);
  });

  it('removes the keys: registering the same config again gives an empty store at rev 0', async () => {
    const config = { scope: SCOPE, name: 'reborn' };
    const id = deriveStoreId(config);
    expect((await call(env.server, '/v1/stores', json({ config }))).status).toBe(201);
    await put(env.server, id, 'a', 1);
    await put(env.server, id, 'b', 2);
    expect((await call(env.server, `/v1/stores/${id}`, { method: 'DELETE' })).status).toBe(204);
    const again = await call(env.server, '/v1/stores', json({ config }));
    expect(again.status).toBe(201);
    expect(again.body.headRev).toBe(0);
    expect((await call(env.server, `/v1/stores/${id}/keys`)).body).toEqual({ items: [], next: null });
    expectProblem(await call(env.server, keyPath(id, 'a')), 404, 'not-found');
    expect((await put(env.server, id, 'c', 3)).rev).toBe(1);
  });

  it('sends event: store-deleted to an open live feed, which then closes', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'k', 'v');
    const feed = await openFeed(env.server, id, '?since=0');
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    expect((await call(env.server, `/v1/stores/${id}`, { method: 'DELETE' })).status).toBe(204);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'store-deleted'));
    const last = feed.events.at(-1)!;
    expect(last.event).toBe('store-deleted');
    expect(last.data).toEqual({ storeId: id });
    await Promise.race([feed.ended, new Promise((_, reject) => setTimeout(() => reject(new Error('feed did not close')), 5000))]);
    expect(feed.isClosed()).toBe(true);
  });
});
