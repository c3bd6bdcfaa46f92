/**
 * The typed API of @keysync/client (`createApiClient`) against the real
 * server, route by route: every route of openapi/openapi.json is called
 * once at least, successes come back as typed data and failures as Problem
 * values (never thrown).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from '../../clients/typescript/src/api.js';
import { readSse } from '../../clients/typescript/src/sse.js';
import { storeId as deriveStoreId } from '@keysync/protocol';
import openapi from '../../openapi/openapi.json' with { type: 'json' };
import { useTestServer } from '../support/server.js';

const ADMIN = 'admin-token-for-client-tests';
let admin: ApiClient;
/** "METHOD /path/template" of every call made through the client, from the fetch it was given. */
const called = new Set<string>();

// A window of 1, so that a fetch ahead of the ack is refused (409 ack-required).
const env = useTestServer({ adminToken: ADMIN, limits: { batchWindow: 1 } });
beforeAll(async () => {
  admin = client(ADMIN);
});

const templates = Object.entries(openapi.paths).flatMap(([path, ops]) =>
  Object.keys(ops)
    .filter((m) => m !== 'parameters')
    .map((m) => ({ method: m.toUpperCase(), path, re: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`) })),
);

function client(token?: string): ApiClient {
  return createApiClient({
    baseUrl: `${env.server.url}/`,
    token,
    fetch: (input, init) => {
      const path = new URL(input).pathname;
      const hit = templates.find((t) => t.method === (init?.method ?? 'GET') && t.re.test(path));
      if (hit) called.add(`${hit.method} ${hit.path}`);
      return fetch(input, init);
    },
  });
}

const config = { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', test: 'client-api' };

describe('createApiClient against the server', () => {
  it('registers, lists, reads, patches and deletes stores', async () => {
    const first = await admin.registerStore({ config });
    expect(first.error).toBeUndefined();
    expect(first.response.status).toBe(201);
    expect(first.data).toMatchObject({ storeId: deriveStoreId(config), headRev: 0 });
    const again = await admin.registerStore({ config });
    expect(again.response.status).toBe(200);
    const id = first.data!.storeId;

    const list = await admin.listStores({ limit: 10 });
    expect(list.data?.items.map((s) => s.storeId)).toContain(id);
    expect((await admin.getStore(id)).data?.config).toEqual(config);
    const patched = await admin.updateStore(id, { options: { filter: { prefixes: ['a/'] } } });
    expect(patched.data?.options).toEqual({ filter: { prefixes: ['a/'] } });
    await admin.updateStore(id, { options: {} });

    const other = await admin.registerStore({ config: { ...config, test: 'to delete' } });
    const gone = await admin.deleteStore(other.data!.storeId);
    expect(gone.error).toBeUndefined();
    expect(gone.data).toBeUndefined();
    expect(gone.response.status).toBe(204);
    const missing = await admin.getStore(other.data!.storeId);
    expect(missing.error).toMatchObject({ status: 404, type: expect.stringMatching(/not-found$/), title: expect.any(String) });
  });

  it('issues, lists and revokes tokens; a read token reads but cannot write', async () => {
    const id = deriveStoreId(config);
    const issued = await admin.createToken(id, { scope: 'read' });
    expect(issued.response.status).toBe(201);
    const reader = client(issued.data!.token);
    expect((await reader.listKeys(id)).data).toEqual({ items: [], next: null });
    const denied = await reader.putKey(id, 'x', 1);
    expect(denied.error).toMatchObject({ status: 403 });
    expect((await admin.listTokens(id)).data?.items.map((t) => t.id)).toContain(issued.data!.id);
    const feed = await reader.createFeedToken(id, { ttlSeconds: 60 });
    expect(feed.response.status).toBe(201);
    expect(feed.data!.token).toMatch(/^ksf1\./);
    expect((await reader.createFeedToken(id)).response.status).toBe(201);
    expect((await admin.revokeToken(id, issued.data!.id)).response.status).toBe(204);
    expect((await reader.listKeys(id)).error).toMatchObject({ status: 401 });
    expect((await client().getStore(id)).error).toMatchObject({ status: 401, type: expect.stringMatching(/unauthorized$/) });
  });

  it('writes and reads JSON and bytes under any key, with preconditions and ETags', async () => {
    const id = deriveStoreId(config);
    const key = 'a/b c/ünï?#%';
    const put = await admin.putKey(id, key, { name: 'Ada' }, { ifNoneMatch: '*' });
    expect(put.data).toMatchObject({ key, rev: expect.any(Number), ts: expect.stringMatching(/Z$/) });
    expect((await admin.putKey(id, key, 1, { ifNoneMatch: '*' })).error).toMatchObject({ status: 412 });
    expect((await admin.putKey(id, key, 1, { ifMatch: put.data!.rev + 100 })).error).toMatchObject({ status: 412 });

    const got = await admin.getKey(id, key);
    expect(got.data).toEqual({ kind: 'json', key, value: { name: 'Ada' }, rev: put.data!.rev, ts: put.data!.ts, etag: `"${put.data!.rev}"` });
    expect((await admin.getKey(id, key, { ifNoneMatch: got.data!.kind === 'json' ? got.data!.etag : '' })).data).toMatchObject({ kind: 'not-modified' });
    const updated = await admin.putKey(id, key, null, { ifMatch: put.data!.rev });
    expect((await admin.getKey(id, key, { ifNoneMatch: put.data!.rev })).data).toMatchObject({ kind: 'json', value: null, rev: updated.data!.rev });

    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await admin.putBytes(id, 'blob', bytes, 'image/png');
    expect((await admin.getKey(id, 'blob')).data).toMatchObject({ kind: 'bytes', bytes, contentType: 'image/png' });

    const bulk = await admin.write(id, {
      ops: [
        { op: 'put', key: 'a/1', value: [1] },
        { op: 'put', key: 'a/2', base64: 'AAE=', contentType: 'x/y' },
        { op: 'delete', key: 'blob' },
      ],
    });
    expect(bulk.data?.results.map((r) => r.key)).toEqual(['a/1', 'a/2', 'blob']);
    expect(bulk.data?.results[2]).toMatchObject({ deleted: true });
    const deleted = await admin.deleteKey(id, 'a/1');
    expect(deleted.data).toMatchObject({ key: 'a/1', deleted: true });
    expect((await admin.getKey(id, 'a/1')).error).toMatchObject({ status: 404 });
    expect((await admin.deleteKey(id, 'never')).error).toMatchObject({ status: 404 });

    // `.` and `..` cannot be path segments (fetch normalises them away): the client sends them in the query.
    for (const dots of ['.', '..']) {
      const written = await admin.putKey(id, dots, { dots });
      expect(written.data).toMatchObject({ key: dots });
      expect((await admin.putBytes(id, dots, new Uint8Array([1]), 'x/y', { ifMatch: written.data!.rev })).data).toMatchObject({ key: dots });
      expect((await admin.getKey(id, dots)).data).toMatchObject({ kind: 'bytes', contentType: 'x/y' });
      expect((await admin.deleteKey(id, dots)).data).toMatchObject({ key: dots, deleted: true });
    }

    const page1 = await admin.listKeys(id, { prefix: 'a/', limit: 2 });
    expect(page1.data?.items.map((i) => i.key)).toEqual(['a/1', 'a/2']);
    const page2 = await admin.listKeys(id, { prefix: 'a/', after: page1.data!.next!, limit: 2 });
    expect(page2.data?.items.map((i) => i.key)).toEqual([key]);
    expect(page2.data?.next).toBeNull();

    const bad = await admin.write(id, { ops: [] as never });
    expect(bad.error).toMatchObject({ status: 400, errors: expect.any(Array) });
    // undefined is not JSON: refused before anything is sent
    expect(() => admin.putKey(id, 'k', undefined)).toThrow(TypeError);
  });

  it('runs a sync session by hand: handshake, batches, ack, status, cancel, live feed', async () => {
    const id = deriveStoreId(config);
    const hs = await admin.handshake(id, { have: {}, prefix: 'a/', batchSize: 1 });
    expect(hs.data).toMatchObject({ stale: ['a/b c/ünï?#%', 'a/2'], removed: [], batches: 2, window: 1 });
    const sid = hs.data!.sessionId;
    const b0 = await admin.batch(id, sid, 0);
    expect(b0.data).toMatchObject({ cursor: 0, next: 1, entries: [{ key: 'a/b c/ünï?#%', value: null }] });
    expect((await admin.batch(id, sid, 1)).error).toMatchObject({ status: 409, type: expect.stringMatching(/ack-required$/) });
    expect((await admin.ack(id, sid, 0)).data).toMatchObject({ acked: 0, next: 1, done: false });
    expect((await admin.sessionStatus(id, sid)).data).toMatchObject({ sessionId: sid, acked: 0, done: false });
    expect((await admin.listSessions(id)).data?.items.map((s) => s.sessionId)).toContain(sid);
    expect((await admin.cancelSession(id, sid)).response.status).toBe(204);
    expect((await admin.sessionStatus(id, sid)).error?.status).toBeGreaterThanOrEqual(400);
    expect((await admin.handshake(id, { since: 10_000 })).error).toMatchObject({ status: 409, type: expect.stringMatching(/since-ahead$/) });
    // Digests of nothing held: every bucket holding a key of the store differs.
    const digests = await admin.digests(id, { buckets: 1, digests: 'AAAAAAAAAAA=' });
    expect(digests.data).toMatchObject({ buckets: 1, differ: [0] });

    const abort = new AbortController();
    const feed = await admin.events(id, { since: hs.data!.headRev - 1, prefix: 'a/', signal: abort.signal });
    expect(feed.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const seen: string[] = [];
    await readSse(
      feed.data!,
      (item) => {
        if (item.kind === 'event') seen.push(item.event);
        if (item.kind === 'event' && item.event === 'ready') abort.abort();
      },
      { signal: abort.signal },
    ).catch(() => undefined);
    expect(seen.at(-1)).toBe('ready');
    expect((await admin.events('00000000-0000-5000-8000-000000000000')).error).toMatchObject({ status: 404 });
  });

  it('reads health, readiness and metrics, and keeps going through problems from elsewhere', async () => {
    expect((await admin.health()).data).toEqual({ status: 'ok' });
    expect((await admin.ready()).response.status).toBe(200);
    expect((await admin.metrics()).data).toMatch(/# TYPE/);

    // A proxy answering HTML is still a Problem value.
    const proxied = createApiClient({
      baseUrl: env.server.url,
      fetch: async () => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway', headers: { 'content-type': 'text/html' } }),
    });
    const res = await proxied.getStore(deriveStoreId(config));
    expect(res.error).toEqual({ type: 'about:blank', title: 'Bad Gateway', status: 502, detail: '<html>bad gateway</html>' });
  });

  it('has called every route of the OpenAPI document', () => {
    expect([...called].sort()).toEqual(templates.map((t) => `${t.method} ${t.path}`).sort());
  });
});
