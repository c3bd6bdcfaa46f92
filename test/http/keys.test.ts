import { beforeAll, describe, expect, it } from 'vitest';
import { call, del, json, keyPath, newStore, put } from '../support/http.js';
import { TS_FORMAT, expectProblem } from '../support/problem.js';
import { useTestServer } from '../support/server.js';

let storeId: string;
const env = useTestServer();
beforeAll(async () => {
  storeId = await newStore(env.server);
});

const headRev = async (id = storeId) => (await call(env.server, `/v1/stores/${id}`)).body.headRev as number;
const putRaw = (key: string, body: BodyInit, contentType?: string, headers: Record<string, string> = {}) =>
  call(env.server, keyPath(storeId, key), { method: 'PUT', body, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers } });

describe('writing and reading JSON values', () => {
  const values: Array<[string, unknown]> = [
    ['string', 'hello'],
    ['empty string', ''],
    ['map', { name: 'Ada', age: 36 }],
    ['array', [1, 'two', { three: 3 }, [4]]],
    ['integer', 42],
    ['negative float', -12.5],
    ['large number', 1e300],
    ['true', true],
    ['false', false],
    ['null', null],
    ['nested', { a: { b: { c: [{ d: [null, { e: 'deep' }] }] } } }],
    ['unicode', { ключ: 'значение', emoji: '🎉👩‍💻', cjk: '漢字', escapes: 'line\nbreak\ttab "quote" \\ \u0001' }],
  ];
  for (const [name, value] of values) {
    it(`round-trips a JSON ${name}`, async () => {
      const key = `json/${name}`;
      const written = await put(env.server, storeId, key, value);
      expect(written).toEqual({ key, rev: expect.any(Number), ts: expect.stringMatching(TS_FORMAT) });
      const res = await env.server.fetch(keyPath(storeId, key));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual(value);
    });
  }

  it('accepts a JSON content type with parameters and stores JSON', async () => {
    const res = await putRaw('json/charset', '{"x": [1, 2]}', 'application/json; charset=utf-8');
    expect(res.status).toBe(200);
    const got = await env.server.fetch(keyPath(storeId, 'json/charset'));
    expect(got.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await got.json()).toEqual({ x: [1, 2] });
  });

  it('answers 200 with {key, rev, ts} and nothing else', async () => {
    const res = await call(env.server, keyPath(storeId, 'shape'), json({ v: 1 }, { method: 'PUT' }));
    expect(res.status).toBe(200);
    expect(res.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['key', 'rev', 'ts']);
  });
});

describe('writing and reading bytes', () => {
  it('keeps every one of the 256 byte values and the content type', async () => {
    const bytes = new Uint8Array(512).map((_, i) => i % 256);
    const res = await putRaw('bytes/all', bytes, 'image/png');
    expect(res.status).toBe(200);
    const got = await env.server.fetch(keyPath(storeId, 'bytes/all'));
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes);
  });

  it('keeps a content type with parameters verbatim', async () => {
    const type = 'text/plain; charset=iso-8859-1';
    expect((await putRaw('bytes/latin1', new Uint8Array([0x63, 0x61, 0x66, 0xe9]), type)).status).toBe(200);
    const got = await env.server.fetch(keyPath(storeId, 'bytes/latin1'));
    expect(got.headers.get('content-type')).toBe(type);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(new Uint8Array([0x63, 0x61, 0x66, 0xe9]));
  });

  it('stores text that looks like JSON as bytes when the content type is not JSON', async () => {
    expect((await putRaw('bytes/not-json', '{"a": 1}', 'text/plain')).status).toBe(200);
    const got = await env.server.fetch(keyPath(storeId, 'bytes/not-json'));
    expect(got.headers.get('content-type')).toBe('text/plain');
    expect(await got.text()).toBe('{"a": 1}');
  });

  it('stores an empty body as an empty value', async () => {
    expect((await putRaw('bytes/empty', new Uint8Array(0), 'application/octet-stream')).status).toBe(200);
    const got = await env.server.fetch(keyPath(storeId, 'bytes/empty'));
    expect(got.status).toBe(200);
    expect((await got.arrayBuffer()).byteLength).toBe(0);
  });

  it('round-trips every byte value, and a value of a few hundred KB, through GET and a sync batch', async () => {
    // The embedded database reads bytea through our own converters (src/db/client.ts); batches encode it in SQL.
    const every = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + (i >> 8)) & 255);
    const large = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 2_654_435_761) >>> 24);
    const id = await newStore(env.server);
    for (const [key, bytes] of [
      ['every', every],
      ['large', large],
    ] as const) {
      const r = await call(env.server, keyPath(id, key), { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
      expect(r.status).toBe(200);
      const got = await env.server.fetch(keyPath(id, key));
      expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    }
    const hs = await call(env.server, `/v1/stores/${id}/sync`, json({ have: {} }));
    expect(hs.status).toBe(201);
    const batch = await call(env.server, `/v1/stores/${id}/sync/${hs.body.sessionId}/batches/0`);
    const sent = new Map((batch.body.entries as Array<{ key: string; base64: string }>).map((e) => [e.key, Buffer.from(e.base64, 'base64')]));
    expect(sent.get('every')?.equals(Buffer.from(every))).toBe(true);
    expect(sent.get('large')?.equals(Buffer.from(large))).toBe(true);
  });

  it('replaces a JSON value with bytes and back', async () => {
    await put(env.server, storeId, 'bytes/switch', { json: true });
    expect((await putRaw('bytes/switch', new Uint8Array([1, 2, 3]), 'application/x-thing')).status).toBe(200);
    let got = await env.server.fetch(keyPath(storeId, 'bytes/switch'));
    expect(got.headers.get('content-type')).toBe('application/x-thing');
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    await put(env.server, storeId, 'bytes/switch', ['json', 'again']);
    got = await env.server.fetch(keyPath(storeId, 'bytes/switch'));
    expect(got.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await got.json()).toEqual(['json', 'again']);
  });
});

describe('reading with validators', () => {
  it('sends ETag, X-Keysync-Rev and X-Keysync-Ts of the last write', async () => {
    const w = await put(env.server, storeId, 'etag', 'v1');
    const res = await env.server.fetch(keyPath(storeId, 'etag'));
    expect(res.headers.get('etag')).toBe(`"${w.rev}"`);
    expect(res.headers.get('x-keysync-rev')).toBe(String(w.rev));
    expect(res.headers.get('x-keysync-ts')).toBe(w.ts);
  });

  it('answers 304 without a body for a matching If-None-Match and 200 for a stale one', async () => {
    const w1 = await put(env.server, storeId, 'cond-read', 'v1');
    const notModified = await env.server.fetch(keyPath(storeId, 'cond-read'), { headers: { 'if-none-match': `"${w1.rev}"` } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(`"${w1.rev}"`);
    expect(await notModified.text()).toBe('');
    const w2 = await put(env.server, storeId, 'cond-read', 'v2');
    const changed = await env.server.fetch(keyPath(storeId, 'cond-read'), { headers: { 'if-none-match': `"${w1.rev}"` } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).toBe(`"${w2.rev}"`);
    expect(await changed.json()).toBe('v2');
  });

  it('answers 404 problem for a key that never existed', async () => {
    expectProblem(await call(env.server, keyPath(storeId, 'never-written')), 404, 'not-found');
  });
});

describe('deleting keys', () => {
  it('writes a tombstone with the next rev and answers {key, rev, ts, deleted: true}', async () => {
    const w = await put(env.server, storeId, 'del/a', 1);
    const res = await call(env.server, keyPath(storeId, 'del/a'), { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ key: 'del/a', rev: w.rev + 1, ts: expect.stringMatching(TS_FORMAT), deleted: true });
    expect(res.body.ts > w.ts).toBe(true);
    expectProblem(await call(env.server, keyPath(storeId, 'del/a')), 404, 'not-found');
    const listed = await call(env.server, `/v1/stores/${storeId}/keys?prefix=${encodeURIComponent('del/a')}`);
    expect(listed.body.items).toEqual([{ key: 'del/a', rev: w.rev + 1, ts: res.body.ts, deleted: true }]);
  });

  it('answers 404 for an absent key and for a key already deleted, without using a rev', async () => {
    await put(env.server, storeId, 'del/b', 1);
    await del(env.server, storeId, 'del/b');
    const before = await headRev();
    expectProblem(await call(env.server, keyPath(storeId, 'del/never'), { method: 'DELETE' }), 404, 'not-found');
    expectProblem(await call(env.server, keyPath(storeId, 'del/b'), { method: 'DELETE' }), 404, 'not-found');
    expect(await headRev()).toBe(before);
  });

  it('lets a deleted key be written again with a higher rev', async () => {
    await put(env.server, storeId, 'del/c', 'first');
    const d = await del(env.server, storeId, 'del/c');
    const again = await put(env.server, storeId, 'del/c', 'second');
    expect(again.rev).toBe(d.rev + 1);
    expect(await (await env.server.fetch(keyPath(storeId, 'del/c'))).json()).toBe('second');
  });
});

describe('conditional writes', () => {
  it('writes with If-Match naming the current rev, and answers 412 for any other rev without writing', async () => {
    const w = await put(env.server, storeId, 'cas', 'v1');
    const ok = await call(env.server, keyPath(storeId, 'cas'), json('v2', { method: 'PUT', headers: { 'if-match': `"${w.rev}"` } }));
    expect(ok.status).toBe(200);
    const before = await headRev();
    expectProblem(
      await call(env.server, keyPath(storeId, 'cas'), json('v3', { method: 'PUT', headers: { 'if-match': `"${w.rev}"` } })),
      412,
      'precondition-failed',
    );
    expect(await headRev()).toBe(before);
    expect(await (await env.server.fetch(keyPath(storeId, 'cas'))).json()).toBe('v2');
  });

  it('answers 412 for If-Match on an absent or deleted key', async () => {
    expectProblem(
      await call(env.server, keyPath(storeId, 'cas-absent'), json('x', { method: 'PUT', headers: { 'if-match': '"1"' } })),
      412,
      'precondition-failed',
    );
    const w = await put(env.server, storeId, 'cas-deleted', 'x');
    await del(env.server, storeId, 'cas-deleted');
    expectProblem(
      await call(env.server, keyPath(storeId, 'cas-deleted'), json('y', { method: 'PUT', headers: { 'if-match': `"${w.rev}"` } })),
      412,
      'precondition-failed',
    );
    expectProblem(await call(env.server, keyPath(storeId, 'cas-absent')), 404, 'not-found');
  });

  it('deletes with a matching If-Match and answers 412 for a stale one', async () => {
    const w1 = await put(env.server, storeId, 'cas-del', 1);
    const w2 = await put(env.server, storeId, 'cas-del', 2);
    expectProblem(
      await call(env.server, keyPath(storeId, 'cas-del'), { method: 'DELETE', headers: { 'if-match': `"${w1.rev}"` } }),
      412,
      'precondition-failed',
    );
    expect((await env.server.fetch(keyPath(storeId, 'cas-del'))).status).toBe(200);
    const ok = await call(env.server, keyPath(storeId, 'cas-del'), { method: 'DELETE', headers: { 'if-match': `"${w2.rev}"` } });
    expect(ok.status).toBe(200);
    expect(ok.body.deleted).toBe(true);
  });

  it('creates with If-None-Match: * only when the key does not exist (a tombstone does not count)', async () => {
    const create = (value: unknown) => call(env.server, keyPath(storeId, 'create-once'), json(value, { method: 'PUT', headers: { 'if-none-match': '*' } }));
    expect((await create('first')).status).toBe(200);
    const before = await headRev();
    expectProblem(await create('second'), 412, 'precondition-failed');
    expect(await headRev()).toBe(before);
    expect(await (await env.server.fetch(keyPath(storeId, 'create-once'))).json()).toBe('first');
    await del(env.server, storeId, 'create-once');
    expect((await create('third')).status).toBe(200);
    expect(await (await env.server.fetch(keyPath(storeId, 'create-once'))).json()).toBe('third');
  });

  it('applies If-None-Match: * to byte values too', async () => {
    expect((await putRaw('create-bytes', new Uint8Array([1]), 'application/octet-stream', { 'if-none-match': '*' })).status).toBe(200);
    expectProblem(await putRaw('create-bytes', new Uint8Array([2]), 'application/octet-stream', { 'if-none-match': '*' }), 412, 'precondition-failed');
  });
});

describe('key names', () => {
  const names = [
    'a/b',
    '/leading/and/trailing/',
    'a//b',
    'with space',
    '  padded  ',
    'ünïcødé',
    '🎉/emoji',
    '漢字/キー',
    '100%',
    '%41',
    '%2F',
    'a%2Fb',
    'plus+sign',
    'q?x=1&y=2',
    'hash#frag',
    'semi;colon',
    'back\\slash',
    'quote"and\'apos',
    'tab\there',
    'new\nline',
    '...dots',
    '~tilde',
  ];

  it('round-trips keys with slashes, spaces, unicode and percent signs percent-encoded as one segment', async () => {
    const id = await newStore(env.server);
    for (const [i, key] of names.entries()) {
      const w = await put(env.server, id, key, { i });
      expect(w.key).toBe(key);
    }
    for (const [i, key] of names.entries()) {
      const res = await env.server.fetch(keyPath(id, key));
      expect(res.status, key).toBe(200);
      expect(await res.json(), key).toEqual({ i });
    }
    const listed = await call(env.server, `/v1/stores/${id}/keys?limit=1000`);
    expect(listed.body.items.map((m: { key: string }) => m.key)).toEqual([...names].sort(codePointOrder));
  });

  it('treats a%2Fb as the one key "a/b", distinct from the key "a%2Fb"', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'a/b', 'slash');
    await put(env.server, id, 'a%2Fb', 'literal');
    expect(await (await env.server.fetch(`/v1/stores/${id}/keys/a%2Fb`)).json()).toBe('slash');
    expect(await (await env.server.fetch(`/v1/stores/${id}/keys/a%252Fb`)).json()).toBe('literal');
  });

  it('accepts a key of exactly 1024 bytes of UTF-8', async () => {
    const ascii = 'k'.repeat(1024);
    const twoByte = 'é'.repeat(512);
    expect((await put(env.server, storeId, ascii, 1)).key).toBe(ascii);
    expect((await put(env.server, storeId, twoByte, 2)).key).toBe(twoByte);
    expect(await (await env.server.fetch(keyPath(storeId, twoByte))).json()).toBe(2);
  });
});

describe('listing keys', () => {
  it('pages through a prefix in key order with next as the following after, ending with null', async () => {
    const id = await newStore(env.server);
    const keys = ['p/3', 'p/1', 'p/5', 'p/2', 'p/4', 'q/1', 'p', 'o/9'];
    for (const key of keys) await put(env.server, id, key, key);
    const seen: Array<{ key: string }> = [];
    let after: string | undefined;
    const nexts: Array<string | null> = [];
    for (;;) {
      const q = new URLSearchParams({ prefix: 'p/', limit: '2', ...(after !== undefined ? { after } : {}) });
      const page = await call(env.server, `/v1/stores/${id}/keys?${q}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items);
      nexts.push(page.body.next);
      if (page.body.next === null) break;
      after = page.body.next;
    }
    expect(seen.map((m) => m.key)).toEqual(['p/1', 'p/2', 'p/3', 'p/4', 'p/5']);
    expect(nexts).toEqual(['p/2', 'p/4', null]);
    for (const m of seen) expect(m).toEqual({ key: expect.any(String), rev: expect.any(Number), ts: expect.stringMatching(TS_FORMAT) });
  });

  it('lists every key without a prefix, and an empty page for a prefix nothing has', async () => {
    const id = await newStore(env.server);
    for (const key of ['b', 'a', 'c']) await put(env.server, id, key, 1);
    const all = await call(env.server, `/v1/stores/${id}/keys`);
    expect(all.body.items.map((m: { key: string }) => m.key)).toEqual(['a', 'b', 'c']);
    expect(all.body.next).toBeNull();
    expect((await call(env.server, `/v1/stores/${id}/keys?prefix=zzz`)).body).toEqual({ items: [], next: null });
  });

  it('returns an exactly full last page with next null', async () => {
    const id = await newStore(env.server);
    for (const key of ['a', 'b', 'c', 'd']) await put(env.server, id, key, 1);
    const first = await call(env.server, `/v1/stores/${id}/keys?limit=2`);
    expect(first.body.next).toBe('b');
    const second = await call(env.server, `/v1/stores/${id}/keys?limit=2&after=b`);
    expect(second.body.items.map((m: { key: string }) => m.key)).toEqual(['c', 'd']);
    expect(second.body.next).toBeNull();
  });

  it('orders unicode keys by code point and matches unicode prefixes', async () => {
    const id = await newStore(env.server);
    const keys = ['z', 'é', 'e', 'Z', '🎉', '\uffff', 'éa', 'éb'];
    for (const key of keys) await put(env.server, id, key, 1);
    const all = await call(env.server, `/v1/stores/${id}/keys`);
    expect(all.body.items.map((m: { key: string }) => m.key)).toEqual([...keys].sort(codePointOrder));
    const pre = await call(env.server, `/v1/stores/${id}/keys?prefix=${encodeURIComponent('é')}`);
    expect(pre.body.items.map((m: { key: string }) => m.key)).toEqual(['é', 'éa', 'éb']);
  });
});

describe('revs and timestamps', () => {
  it('gives consecutive revs and strictly increasing microsecond ts to sequential writes of one store', async () => {
    const id = await newStore(env.server);
    const results = [];
    for (let i = 0; i < 30; i++) results.push(i % 5 === 4 ? await del(env.server, id, `k${i - 1}`) : await put(env.server, id, `k${i}`, i));
    expect(results.map((r) => r.rev)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const r of results) expect(r.ts).toMatch(TS_FORMAT);
    for (let i = 1; i < results.length; i++) expect(results[i]!.ts > results[i - 1]!.ts).toBe(true);
    expect(await headRev(id)).toBe(30);
  });

  it('gives concurrent writes distinct consecutive revs whose ts increase with the rev', async () => {
    const id = await newStore(env.server);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => put(env.server, id, i % 2 ? 'same' : `k${i}`, i)));
    const byRev = [...results].sort((a, b) => a.rev - b.rev);
    expect(byRev.map((r) => r.rev)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 1; i < byRev.length; i++) expect(byRev[i]!.ts > byRev[i - 1]!.ts).toBe(true);
    const same = await env.server.fetch(keyPath(id, 'same'));
    const last = byRev.filter((r) => r.key === 'same').at(-1)!;
    expect(same.headers.get('x-keysync-rev')).toBe(String(last.rev));
    expect(same.headers.get('x-keysync-ts')).toBe(last.ts);
  });

  it('counts revs per store', async () => {
    const a = await newStore(env.server);
    const b = await newStore(env.server);
    expect((await put(env.server, a, 'x', 1)).rev).toBe(1);
    expect((await put(env.server, b, 'x', 1)).rev).toBe(1);
    expect((await put(env.server, a, 'y', 1)).rev).toBe(2);
  });
});

function codePointOrder(a: string, b: string): number {
  const x = Array.from(a).map((c) => c.codePointAt(0)!);
  const y = Array.from(b).map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
