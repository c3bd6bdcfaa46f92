/**
 * The digests route and the digest handshake over HTTP, as docs/API.md
 * ("Digests") describes them to a client author: what a request must hold,
 * the 409s that send a replica back to its whole `have` map, and a key
 * listed outside its bucket refused rather than removed.
 */
import { DigestFolder, digestBucketOf } from '@keysync/protocol';
import { describe, expect, it } from 'vitest';
import { parseTsMicros } from '@keysync/protocol';
import { bulk, call, json, newStore } from '../support/http.js';
import { expectProblem, expectValidation } from '../support/problem.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A store of `n` keys under users/ and docs/, and the have map of a replica holding all of them. */
async function storeOf(n: number, options?: unknown) {
  const storeId = await newStore(env.server, options);
  const written = await bulk(
    env.server,
    storeId,
    Array.from({ length: n }, (_, i) => ({ op: 'put', key: `${i % 2 ? 'users' : 'docs'}/${i}`, value: i })),
  );
  return { storeId, have: Object.fromEntries(written.map((w) => [w.key, w.ts])) as Record<string, string> };
}

function digestsOf(have: Record<string, string>, buckets: number, prefix = '') {
  const folder = new DigestFolder(buckets);
  for (const [key, ts] of Object.entries(have)) if (key.startsWith(prefix)) folder.add(key, parseTsMicros(ts)!);
  return base64(folder.bytes());
}

const digests = (storeId: string, body: unknown) => call(env.server, `/v1/stores/${storeId}/sync/digests`, json(body));

/** keysync_digest_folds_total by outcome, as the server counts them now. */
async function foldCounts(): Promise<{ folded: number; reused: number }> {
  const text = await (await env.server.fetch('/metrics')).text();
  const count = (outcome: string) => Number(new RegExp(`^keysync_digest_folds_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { folded: count('folded'), reused: count('reused') };
}
const handshake = (storeId: string, body: unknown) => call(env.server, `/v1/stores/${storeId}/sync`, json(body));

describe('POST /sync/digests', () => {
  it('names no bucket for a replica that holds what the store serves, and the buckets of what differs', async () => {
    const { storeId, have } = await storeOf(40);
    const same = await digests(storeId, { buckets: 16, digests: digestsOf(have, 16) });
    expect(same.status).toBe(200);
    expect(same.body).toEqual({ rev: 40, optionsVersion: 0, buckets: 16, differ: [] });
    // One key at another ts, one missing: their two buckets.
    const missing: Record<string, string> = { ...have, 'docs/2': '2020-01-01T00:00:00.000000Z' };
    delete missing['users/1'];
    const differ = [digestBucketOf('users/1', 16), digestBucketOf('docs/2', 16)].sort((a, b) => a - b);
    expect((await digests(storeId, { buckets: 16, digests: digestsOf(missing, 16) })).body.differ).toEqual([...new Set(differ)]);
    // Under a prefix only its keys count.
    const docs = await digests(storeId, { buckets: 8, digests: digestsOf(have, 8, 'docs/'), prefix: 'docs/' });
    expect(docs.body.differ).toEqual([]);
  });

  it("answers a request without digests with the store's, as a replica holding what it serves folds them, under a prefix too", async () => {
    const { storeId, have } = await storeOf(40);
    await bulk(env.server, storeId, [{ op: 'delete', key: 'users/3' }]);
    delete have['users/3'];
    const whole = await digests(storeId, { buckets: 16 });
    expect(whole.status).toBe(200);
    expect(whole.body).toEqual({ rev: 41, optionsVersion: 0, buckets: 16, digests: digestsOf(have, 16) });
    expect((await digests(storeId, { buckets: 8, prefix: 'docs/' })).body.digests).toBe(digestsOf(have, 8, 'docs/'));
    // A replica's digests fold what it holds the same way: equal digests are the answer's `differ: []`.
    expect((await digests(storeId, { buckets: 16, digests: whole.body.digests })).body.differ).toEqual([]);
  });

  it('refuses a bucket count that is no power of two, digests of another length or not base64, and unknown fields', async () => {
    const { storeId } = await storeOf(3);
    expectValidation(await digests(storeId, { buckets: 3, digests: base64(new Uint8Array(24)) }), 'buckets');
    expectValidation(await digests(storeId, { buckets: 2 ** 19, digests: '' }), 'buckets');
    expectValidation(await digests(storeId, { buckets: 4, digests: base64(new Uint8Array(24)) }), 'digests');
    expectValidation(await digests(storeId, { buckets: 1, digests: 'AAAA AAAAAA=' }), 'digests');
    // The right length of text, but 7 bytes once decoded (two of padding), or 9 (no padding where one is due).
    expectValidation(await digests(storeId, { buckets: 1, digests: 'AAAAAAAAAA==' }), 'digests');
    expectValidation(await digests(storeId, { buckets: 1, digests: 'AAAAAAAAAAAA' }), 'digests');
    expectValidation(await digests(storeId, { buckets: 1, digests: 'AAAAAAAAAAA=', since: 1 }), '(body)');
  });

  it('answers 409 digests-unusable for a store whose walk decides per value', async () => {
    const { storeId } = await storeOf(3, { walk: { roots: ['docs/0'], refs: ['$.next'] } });
    expectProblem(await digests(storeId, { buckets: 1, digests: 'AAAAAAAAAAA=' }), 409, 'digests-unusable');
  });
});

describe('folds shared by the digest requests of one store state', () => {
  it('folds a state once however many requests ask for it at once, and again once a write moves the store', async () => {
    const { storeId, have } = await storeOf(300);
    const before = await foldCounts();
    const answers = await Promise.all([
      ...Array.from({ length: 3 }, () => digests(storeId, { buckets: 32 })),
      ...Array.from({ length: 3 }, () => digests(storeId, { buckets: 32, digests: digestsOf(have, 32) })),
    ]);
    for (const res of answers.slice(0, 3)) expect(res.body).toEqual({ rev: 300, optionsVersion: 0, buckets: 32, digests: digestsOf(have, 32) });
    for (const res of answers.slice(3)) expect(res.body).toEqual({ rev: 300, optionsVersion: 0, buckets: 32, differ: [] });
    expect(await foldCounts()).toEqual({ folded: before.folded + 1, reused: before.reused + 5 });
    // Another bucket count or prefix is another fold.
    expect((await digests(storeId, { buckets: 16 })).body.digests).toBe(digestsOf(have, 16));
    expect((await digests(storeId, { buckets: 32, prefix: 'docs/' })).body.digests).toBe(digestsOf(have, 32, 'docs/'));
    expect((await foldCounts()).folded).toBe(before.folded + 3);
    // A write: the next request folds the store as it is now.
    const [written] = await bulk(env.server, storeId, [{ op: 'put', key: 'users/1', value: 'changed' }]);
    have['users/1'] = written!.ts;
    expect((await digests(storeId, { buckets: 32 })).body).toEqual({ rev: 301, optionsVersion: 0, buckets: 32, digests: digestsOf(have, 32) });
    expect((await foldCounts()).folded).toBe(before.folded + 4);
  });

  it('answers from the store as it is after an options change, and after the store was deleted and created again at the same rev', async () => {
    const { storeId, have } = await storeOf(20);
    expect((await digests(storeId, { buckets: 8 })).body.digests).toBe(digestsOf(have, 8));
    // The options change moves no rev; the filter leaves only docs/ to fold.
    const patched = await call(env.server, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: ['docs/'] } } }, { method: 'PATCH' }));
    expect(patched.status).toBe(200);
    expect((await digests(storeId, { buckets: 8 })).body).toEqual({ rev: 20, optionsVersion: 1, buckets: 8, digests: digestsOf(have, 8, 'docs/') });

    // The same config registered again is the same id, counting revs from 0 again: 3 keys, 3 revs.
    const config = { scope: '00000000-0000-4000-8000-000000000000', name: `refold-${Math.random()}` };
    const register = () => call(env.server, '/v1/stores', json({ config }));
    const load = async (value: string) => {
      const written = await bulk(
        env.server,
        id,
        ['a', 'b', 'c'].map((key) => ({ op: 'put', key, value })),
      );
      return Object.fromEntries(written.map((w) => [w.key, w.ts]));
    };
    const id = (await register()).body.storeId as string;
    const first = await load('first');
    expect((await digests(id, { buckets: 4 })).body).toEqual({ rev: 3, optionsVersion: 0, buckets: 4, digests: digestsOf(first, 4) });
    expect((await call(env.server, `/v1/stores/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await register()).body.storeId).toBe(id);
    const second = await load('second');
    expect(digestsOf(second, 4)).not.toBe(digestsOf(first, 4));
    expect((await digests(id, { buckets: 4 })).body).toEqual({ rev: 3, optionsVersion: 0, buckets: 4, digests: digestsOf(second, 4) });
  });
});

describe('a handshake with digest', () => {
  it('refuses a have key outside the listed buckets, naming it', async () => {
    const { storeId, have } = await storeOf(40);
    const { differ: _, ...basis } = (await digests(storeId, { buckets: 16, digests: digestsOf(have, 16) })).body;
    const other = Object.keys(have).find((k) => digestBucketOf(k, 16) !== 0)!;
    const res = await handshake(storeId, { have: { [other]: have[other] }, digest: { ...basis, listed: [0] } });
    expectValidation(res, `have.${other}`);
    expectValidation(await handshake(storeId, { have: {}, digest: { ...basis, listed: [16] } }), 'digest.listed');
  });

  it('answers 409 digests-unusable after an options change, and since-ahead for a rev past the head', async () => {
    const { storeId, have } = await storeOf(10);
    const answer = (await digests(storeId, { buckets: 4, digests: digestsOf(have, 4) })).body;
    const { differ, ...basis } = answer;
    expect(differ).toEqual([]);
    expectProblem(await handshake(storeId, { have: {}, digest: { ...basis, rev: 11, listed: [] } }), 409, 'since-ahead');
    const ok = await handshake(storeId, { have: {}, digest: { ...basis, listed: [] } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ stale: [], removed: [], headRev: 10, batches: 0 });
    const patched = await call(env.server, `/v1/stores/${storeId}`, json({ options: { filter: { prefixes: ['docs/'] } } }, { method: 'PATCH' }));
    expect(patched.status).toBe(200);
    expectProblem(await handshake(storeId, { have: {}, digest: { ...basis, listed: [] } }), 409, 'digests-unusable');
  });

  it('delivers what changed after the digests in buckets not listed, and compares the listed ones key by key', async () => {
    const { storeId, have } = await storeOf(40);
    const answer = (await digests(storeId, { buckets: 8, digests: digestsOf(have, 8) })).body;
    await bulk(env.server, storeId, [
      { op: 'put', key: 'users/1', value: 'changed' },
      { op: 'delete', key: 'docs/2' },
      { op: 'put', key: 'new/1', value: 1 },
    ]);
    // The replica lists bucket 0 anyway, holding one of its keys at another ts.
    const inZero = Object.keys(have).filter((k) => digestBucketOf(k, 8) === 0);
    const listedHave = Object.fromEntries(inZero.map((k, i) => [k, i === 0 ? '2020-01-01T00:00:00.000000Z' : have[k]!]));
    const { differ, ...basis } = answer;
    const res = await handshake(storeId, { have: listedHave, digest: { ...basis, listed: [0] }, batchSize: 100 });
    expect(res.status).toBe(201);
    expect(differ).toEqual([]);
    const expected = new Set(['users/1', 'new/1', inZero[0]!]);
    expect(new Set(res.body.stale)).toEqual(expected);
    expect(res.body.stale).toHaveLength(expected.size);
    expect(res.body.removed).toEqual(['docs/2']);
  });

  it('reads a large body (off the event loop) with its digest field', async () => {
    const storeId = await newStore(env.server);
    const have: Record<string, string> = {};
    for (let from = 0; from < 8000; from += 1000) {
      const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'put', key: `large/${String(from + i).padStart(6, '0')}`, value: i }));
      for (const w of await bulk(env.server, storeId, ops)) have[w.key] = w.ts;
    }
    const { differ, ...basis } = (await digests(storeId, { buckets: 2, digests: digestsOf(have, 2) })).body;
    expect(differ).toEqual([]);
    delete have['large/000007'];
    const body = { have, digest: { ...basis, listed: [0, 1] } };
    expect(JSON.stringify(body).length).toBeGreaterThan(256 * 1024);
    const res = await handshake(storeId, body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ stale: ['large/000007'], removed: [] });
    const { 'large/000008': held, ...rest } = have;
    const refused = await handshake(storeId, {
      have: { ...rest, 'large/000008': held },
      digest: { ...basis, listed: [digestBucketOf('large/000008', 2) === 0 ? 1 : 0] },
    });
    expectValidation(refused, /^have\./);
  });
});
