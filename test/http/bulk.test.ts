import { describe, expect, it } from 'vitest';
import { bulk, call, json, keyPath, newStore, put } from '../support/http.js';
import { TS_FORMAT, expectProblem, expectValidation } from '../support/problem.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';

const env = useTestServer({ limits: { maxBulkOps: 5, maxValueBytes: 1024 } });

const writes = (id: string, body: unknown) => call(env.server, `/v1/stores/${id}/writes`, json(body));
const headRev = async (id: string) => (await call(env.server, `/v1/stores/${id}`)).body.headRev as number;
const keysOf = async (id: string) => (await call(env.server, `/v1/stores/${id}/keys?limit=1000`)).body.items;

describe('bulk writes', () => {
  it('gives the ops consecutive revs and increasing ts in op order', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'before', 0);
    const results = await bulk(env.server, id, [
      { op: 'put', key: 'z', value: 1 },
      { op: 'put', key: 'a', value: { two: 2 } },
      { op: 'delete', key: 'before' },
      { op: 'put', key: 'm', base64: 'AAEC', contentType: 'application/x-bin' },
    ]);
    expect(results).toEqual([
      { key: 'z', rev: 2, ts: expect.stringMatching(TS_FORMAT) },
      { key: 'a', rev: 3, ts: expect.stringMatching(TS_FORMAT) },
      { key: 'before', rev: 4, ts: expect.stringMatching(TS_FORMAT), deleted: true },
      { key: 'm', rev: 5, ts: expect.stringMatching(TS_FORMAT) },
    ]);
    for (let i = 1; i < results.length; i++) expect(results[i]!.ts > results[i - 1]!.ts).toBe(true);
    expect(await headRev(id)).toBe(5);
    expect(await keysOf(id)).toEqual([
      { key: 'a', rev: 3, ts: results[1]!.ts },
      { key: 'before', rev: 4, ts: results[2]!.ts, deleted: true },
      { key: 'm', rev: 5, ts: results[3]!.ts },
      { key: 'z', rev: 2, ts: results[0]!.ts },
    ]);
  });

  it('stores base64 ops as bytes with their content type, all 256 byte values intact', async () => {
    const id = await newStore(env.server);
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await bulk(env.server, id, [{ op: 'put', key: 'bin', base64: Buffer.from(bytes).toString('base64'), contentType: 'image/x-test' }]);
    const res = await env.server.fetch(keyPath(id, 'bin'));
    expect(res.headers.get('content-type')).toBe('image/x-test');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it('stores JSON values of every kind, null included', async () => {
    const id = await newStore(env.server);
    const values = ['s', null, false, [1.5, [2]], { a: { b: 'ü🎉' } }];
    await bulk(
      env.server,
      id,
      values.map((value, i) => ({ op: 'put', key: `v${i}`, value })),
    );
    for (const [i, value] of values.entries()) {
      const res = await env.server.fetch(keyPath(id, `v${i}`));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual(value);
    }
  });

  it('stores each op of a mixed bulk as its own row: JSON text as written, bytes, tombstones', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'gone', 0);
    // JSON text that JSON.parse would not give back byte for byte, around a delete and a bytes op.
    const texts = { first: '{"n":1.0,"s":"\\u001e\\\\\\"","e":1E400}', second: '-0', third: '"ü🎉"' };
    const body =
      `{"ops":[{"op":"put","key":"first","value":${texts.first}},{"op":"delete","key":"gone"},` +
      `{"op":"put","key":"bin","base64":"AAEC","contentType":"application/x-bin"},` +
      `{"op":"put","key":"second","value":${texts.second}},{"op":"put","key":"third","value":${texts.third}}]}`;
    const res = await env.server.fetch(`/v1/stores/${id}/writes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    for (const [key, text] of Object.entries(texts)) {
      const read = await env.server.fetch(keyPath(id, key));
      expect(read.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await read.text()).toBe(text);
    }
    const bin = await env.server.fetch(keyPath(id, 'bin'));
    expect(bin.headers.get('content-type')).toBe('application/x-bin');
    expect([...new Uint8Array(await bin.arrayBuffer())]).toEqual([0, 1, 2]);
    expect((await env.server.fetch(keyPath(id, 'gone'))).status).toBe(404);
  });

  it('makes delete ops tombstones: the key reads 404 and lists as deleted', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'gone', 1);
    const [result] = await bulk(env.server, id, [{ op: 'delete', key: 'gone' }]);
    expect(result).toEqual({ key: 'gone', rev: 2, ts: expect.stringMatching(TS_FORMAT), deleted: true });
    expectProblem(await call(env.server, keyPath(id, 'gone')), 404, 'not-found');
    expect(await keysOf(id)).toEqual([{ key: 'gone', rev: 2, ts: result!.ts, deleted: true }]);
  });

  it('keeps the last op when one bulk writes the same key twice', async () => {
    const id = await newStore(env.server);
    const results = await bulk(env.server, id, [
      { op: 'put', key: 'k', value: 'first' },
      { op: 'put', key: 'other', value: 0 },
      { op: 'put', key: 'k', value: 'last' },
    ]);
    expect(results.map((r) => r.rev)).toEqual([1, 2, 3]);
    const res = await env.server.fetch(keyPath(id, 'k'));
    expect(await res.json()).toBe('last');
    expect(res.headers.get('x-keysync-rev')).toBe('3');
    expect(res.headers.get('x-keysync-ts')).toBe(results[2]!.ts);
    expect(await keysOf(id)).toEqual([
      { key: 'k', rev: 3, ts: results[2]!.ts },
      { key: 'other', rev: 2, ts: results[1]!.ts },
    ]);
  });

  it('keeps a put after a delete of the same key, and a delete after a put', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'a', 'old');
    await bulk(env.server, id, [
      { op: 'delete', key: 'a' },
      { op: 'put', key: 'a', value: 'new' },
      { op: 'put', key: 'b', value: 'short-lived' },
      { op: 'delete', key: 'b' },
    ]);
    expect(await (await env.server.fetch(keyPath(id, 'a'))).json()).toBe('new');
    expectProblem(await call(env.server, keyPath(id, 'b')), 404, 'not-found');
  });

  it('delivers a bulk on the live feed in op order', async () => {
    const id = await newStore(env.server);
    const feed = await openFeed(env.server, id);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    await bulk(env.server, id, [
      { op: 'put', key: 'c', value: 1 },
      { op: 'put', key: 'a', value: 2 },
      { op: 'put', key: 'b', value: 3 },
    ]);
    await feed.waitFor(({ events: evs }) => evs.filter((e) => e.event === 'put').length === 3);
    feed.close();
    const puts = feed.events.filter((e) => e.event === 'put');
    expect(puts.map((e) => [e.id, e.data.key, e.data.value])).toEqual([
      ['1', 'c', 1],
      ['2', 'a', 2],
      ['3', 'b', 3],
    ]);
  });
});

describe('bulk writes are all or nothing', () => {
  async function expectUnchanged(id: string, attempt: () => Promise<unknown>) {
    const before = { head: await headRev(id), keys: await keysOf(id) };
    await attempt();
    expect(await headRev(id)).toBe(before.head);
    expect(await keysOf(id)).toEqual(before.keys);
  }

  it('writes nothing when one op has an invalid key', async () => {
    const id = await newStore(env.server);
    await put(env.server, id, 'existing', 'v');
    await expectUnchanged(id, async () => {
      const res = await writes(id, {
        ops: [
          { op: 'put', key: 'ok', value: 1 },
          { op: 'delete', key: 'existing' },
          { op: 'put', key: '', value: 2 },
        ],
      });
      expectValidation(res, 'ops.2.key');
    });
    await expectUnchanged(id, async () => {
      const res = await writes(id, {
        ops: [
          { op: 'put', key: 'ok', value: 1 },
          { op: 'put', key: 'x'.repeat(1025), value: 2 },
        ],
      });
      expectValidation(res, 'ops.1.key');
    });
    expectProblem(await call(env.server, keyPath(id, 'ok')), 404);
  });

  it('writes nothing when one op is malformed', async () => {
    const id = await newStore(env.server);
    await expectUnchanged(id, async () => {
      expectValidation(
        await writes(id, {
          ops: [
            { op: 'put', key: 'ok', value: 1 },
            { op: 'frob', key: 'x' },
          ],
        }),
        /^ops\.1/,
      );
    });
    await expectUnchanged(id, async () => {
      expectValidation(
        await writes(id, {
          ops: [
            { op: 'put', key: 'ok', value: 1 },
            { op: 'put', key: 'x' },
          ],
        }),
        /^ops\.1/,
      );
    });
    await expectUnchanged(id, async () => {
      expectValidation(
        await writes(id, {
          ops: [
            { op: 'put', key: 'ok', value: 1 },
            { op: 'put', key: 'x', base64: '!!not base64!!', contentType: 'a/b' },
          ],
        }),
        /^ops\.1/,
      );
    });
    await expectUnchanged(id, async () => {
      expectValidation(
        await writes(id, {
          ops: [
            { op: 'put', key: 'ok', value: 1 },
            { op: 'put', key: 'x', base64: 'AA==' },
          ],
        }),
        /^ops\.1/,
      );
    });
    await expectUnchanged(id, async () => {
      expectValidation(
        await writes(id, {
          ops: [
            { op: 'put', key: 'ok', value: 1 },
            { op: 'delete', key: 'x', value: 3 },
          ],
        }),
        /^ops\.1/,
      );
    });
  });

  it('writes nothing when one value is larger than the value limit (413)', async () => {
    const id = await newStore(env.server);
    await expectUnchanged(id, async () => {
      const res = await writes(id, {
        ops: [
          { op: 'put', key: 'ok', value: 1 },
          { op: 'put', key: 'big', value: 'x'.repeat(2000) },
        ],
      });
      expectProblem(res, 413, 'payload-too-large');
    });
    await expectUnchanged(id, async () => {
      const res = await writes(id, {
        ops: [
          { op: 'put', key: 'ok', value: 1 },
          { op: 'put', key: 'big', base64: Buffer.alloc(1025).toString('base64'), contentType: 'a/b' },
        ],
      });
      expectProblem(res, 413, 'payload-too-large');
    });
  });

  it('rejects more ops than the bulk limit with 400 and writes nothing', async () => {
    const id = await newStore(env.server);
    const ops = (n: number) => Array.from({ length: n }, (_, i) => ({ op: 'put', key: `k${i}`, value: i }));
    await expectUnchanged(id, async () => expectValidation(await writes(id, { ops: ops(6) }), 'ops'));
    expect((await writes(id, { ops: ops(5) })).status).toBe(200);
  });

  it('rejects an empty ops list, a missing ops list and unknown fields with 400', async () => {
    const id = await newStore(env.server);
    await expectUnchanged(id, async () => {
      expectValidation(await writes(id, { ops: [] }), 'ops');
      expectValidation(await writes(id, {}), 'ops');
      expectProblem(await writes(id, { ops: [{ op: 'put', key: 'a', value: 1 }], atomic: true }), 400);
      expectProblem(await writes(id, { ops: [{ op: 'put', key: 'a', value: 1, extra: 1 }] }), 400);
    });
  });
});
