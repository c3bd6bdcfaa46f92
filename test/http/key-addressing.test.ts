/**
 * Every key a store can hold is reachable by every single-key operation:
 * `.` and `..` (which URL-normalising clients rewrite as path segments)
 * through the `/key?key=` form, and a key sent with unencoded slashes gets
 * a problem that says how to encode it instead of a bare 404.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bulk, call, json, keyPath, newStore, put } from '../support/http.js';
import { expectProblem, expectValidation } from '../support/problem.js';
import { useTestServer } from '../support/server.js';

let storeId: string;
const env = useTestServer();
beforeAll(async () => {
  storeId = await newStore(env.server);
});

const queryPath = (key: string) => `/v1/stores/${storeId}/key?key=${encodeURIComponent(key)}`;

describe('the keys . and ..', () => {
  it('cannot be reached as a path segment by a URL-normalising client (fetch)', async () => {
    // WHATWG URL parsing (fetch, browsers, most HTTP libraries) removes dot segments, %2E spellings included.
    expect(new URL(`http://h/v1/stores/s/keys/..`).pathname).toBe('/v1/stores/s/');
    expect(new URL(`http://h/v1/stores/s/keys/%2E`).pathname).toBe('/v1/stores/s/keys/');
  });

  for (const key of ['.', '..']) {
    it(`"${key}" written with writes is read, rewritten and deleted through /key?key=`, async () => {
      const [written] = await bulk(env.server, storeId, [{ op: 'put', key, value: { dots: key } }]);
      const got = await call(env.server, queryPath(key));
      expect(got.status).toBe(200);
      expect(got.body).toEqual({ dots: key });
      expect(got.res.headers.get('etag')).toBe(`"${written!.rev}"`);

      const rewritten = await call(env.server, queryPath(key), json({ dots: 2 }, { method: 'PUT', headers: { 'if-match': `"${written!.rev}"` } }));
      expect(rewritten.status).toBe(200);
      expect(rewritten.body).toMatchObject({ key, rev: written!.rev + 1 });

      const deleted = await call(env.server, queryPath(key), { method: 'DELETE' });
      expect(deleted.status).toBe(200);
      expect(deleted.body).toMatchObject({ key, deleted: true });
      expectProblem(await call(env.server, queryPath(key)), 404, 'not-found');
    });
  }
});

describe('the /key?key= form', () => {
  const keys = ['users/1', 'a b', 'plus+sign', '100%', '?&=#', 'ключ/🎉', ' leading and trailing ', '%2F'];
  for (const key of keys) {
    it(`reaches ${JSON.stringify(key)} as the path form does`, async () => {
      const written = await call(env.server, queryPath(key), json([key], { method: 'PUT' }));
      expect(written.status).toBe(200);
      expect(written.body.key).toBe(key);
      const viaPath = await call(env.server, keyPath(storeId, key));
      expect(viaPath.body).toEqual([key]);
      await put(env.server, storeId, key, 'via path');
      expect((await call(env.server, queryPath(key))).body).toBe('via path');
    });
  }

  it('reads `+` as a space (form encoding)', async () => {
    await put(env.server, storeId, 'x y', 1);
    expect((await call(env.server, `/v1/stores/${storeId}/key?key=x+y`)).body).toBe(1);
  });

  it('stores bytes with their content type', async () => {
    const res = await call(env.server, queryPath('..'), { method: 'PUT', body: new Uint8Array([0, 255]), headers: { 'content-type': 'image/x-test' } });
    expect(res.status).toBe(200);
    const got = await env.server.fetch(queryPath('..'));
    expect(got.headers.get('content-type')).toBe('image/x-test');
    expect([...new Uint8Array(await got.arrayBuffer())]).toEqual([0, 255]);
  });

  it('refuses a missing, repeated, empty or malformed key with 400', async () => {
    expectValidation(await call(env.server, `/v1/stores/${storeId}/key`), 'key');
    expectValidation(await call(env.server, `/v1/stores/${storeId}/key?key=a&key=b`), 'key');
    expectValidation(await call(env.server, `/v1/stores/${storeId}/key?key=`), 'key');
    expectValidation(await call(env.server, `/v1/stores/${storeId}/key?key=%E0%A4%A`), 'key');
    expectValidation(await call(env.server, `/v1/stores/${storeId}/key?key=%00`, json(1, { method: 'PUT' })), 'key');
  });

  it('answers 404 for an unknown store', async () => {
    expectProblem(await call(env.server, `/v1/stores/00000000-0000-4000-8000-000000000999/key?key=a`), 404, 'not-found');
  });
});

describe('a key sent with unencoded slashes', () => {
  for (const method of ['GET', 'PUT', 'DELETE']) {
    it(`${method} .../keys/users/1 answers 400 saying to send users%2F1`, async () => {
      const init = method === 'PUT' ? json({ a: 1 }, { method }) : { method };
      const res = await call(env.server, `/v1/stores/${storeId}/keys/users/1`, init);
      const body = expectValidation(res, 'key');
      expect(body.detail).toContain('users%2F1');
      expect(body.errors![0]!.message).toContain(`/v1/stores/${storeId}/keys/users%2F1`);
      expect(body.errors![0]!.message).toContain(`/v1/stores/${storeId}/key?key=users%2F1`);
    });
  }

  it('does not write anything', async () => {
    const before = (await call(env.server, `/v1/stores/${storeId}`)).body.headRev;
    await call(env.server, `/v1/stores/${storeId}/keys/never/written`, json(1, { method: 'PUT' }));
    expect((await call(env.server, `/v1/stores/${storeId}`)).body.headRev).toBe(before);
    expectProblem(await call(env.server, keyPath(storeId, 'never/written')), 404, 'not-found');
  });
});
