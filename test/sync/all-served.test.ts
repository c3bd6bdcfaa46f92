/**
 * A client that holds nothing (an empty `have` map) gets every key the store
 * serves, and a `since` handshake every key served written after that rev,
 * cut into chunks by the database (src/sync/all-served.sql.ts) for policies
 * of one rank. The answer must be the one the pass in JavaScript gives: the
 * same stale list in rev order, cut into the same batches by key count and
 * by bytes, the same removed strings (a set) and the same session, for any
 * store (puts of JSON and bytes of many sizes, overwrites, deletes), prefix,
 * key filter, batch size, byte bound and rev; and across the pages of both
 * of its passes on a store of tens of thousands of keys.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy, OPEN_POLICY, type StorePolicy } from '../../src/options/index.js';
import { applyWrites, type WriteOp } from '../../src/store/writes.js';
import { cutsInDatabase, handshake, type HandshakeRequest, type HandshakeSettings } from '../../src/sync/handshake.js';
import { HaveList } from '../../src/sync/have-list.js';
import { handshakeBody } from '../../src/sync/stale-list.js';
import { createTestDatabase, registerTestStore, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const KEYS = ['a', 'a/b', 'a/c', 'a/ü', 'a😀', 'a"q', 'a\\b', 'ab', 'b', 'b/1', 'é', 'é/ключ', '日本/語', '😀'];
const key = fc.constantFrom(...KEYS);
/** Values from empty to a few hundred bytes, so small byte bounds cut batches short. */
const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('put' as const), key, json: fc.string({ maxLength: 300 }).map((t) => JSON.stringify(t)) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('put' as const),
      key,
      bytes: fc.uint8Array({ maxLength: 200 }),
      contentType: fc.constant('application/octet-stream'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
);

const policies: StorePolicy[] = [
  OPEN_POLICY,
  compilePolicy({ filter: { prefixes: ['a', 'é'], excludePrefixes: ['a/c'] } }),
  compilePolicy({ filter: { excludePrefixes: ['b', '😀'] } }),
  compilePolicy({ order: [{ prefix: 'a/', rank: 0 }] }),
];

/** The same policy without its key filter as prefixes: the handshake cuts the chunks in JavaScript. */
const inJs = (policy: StorePolicy): StorePolicy => ({
  includesKey: policy.includesKey,
  rankOf: policy.rankOf,
  ...(policy.ranks ? { ranks: policy.ranks } : {}),
});

const settingsOf = (batchSize: number, batchBytes: number): HandshakeSettings => ({ batchSize, maxBatchSize: 100, batchBytes, window: 2, timeoutMs: 30_000 });

async function answer(storeId: string, policy: StorePolicy, request: HandshakeRequest, settings: HandshakeSettings) {
  const r = await handshake(db.database.db, storeId, request, () => policy, settings);
  const body = JSON.parse(await new Response(handshakeBody(db.database.db, r)).text()) as Record<string, unknown>;
  const [session] = await db.database.rows<Record<string, unknown>>(
    `select head_rev::text, batch_size, total, batches, delivered, acked,
       (select json_agg(keys order by cursor)::text from sync_chunks where store_id = $1::uuid and session_id = $2::uuid) as chunks
     from sync_sessions where store_id = $1::uuid and id = $2::uuid`,
    [storeId, r.sessionId],
  );
  // `removed` is a set (docs/API.md): compared in one order.
  return { stale: body['stale'], removed: [...(body['removed'] as string[])].sort(), headRev: body['headRev'], batches: body['batches'], session };
}

async function storeWith(writes: WriteOp[][]): Promise<string> {
  const storeId = await registerTestStore(db);
  for (const batch of writes) await applyWrites(db.database.db, storeId, batch);
  return storeId;
}

/** What both handshakes the database cuts vary over: the store, the prefix, the policy and the cuts. */
const storeAndCuts = {
  writes: fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { maxLength: 6 }),
  prefix: fc.constantFrom(undefined, undefined, '', 'a', 'é', 'a/', 'zz'),
  policy: fc.nat(policies.length - 1),
  batchSize: fc.integer({ min: 1, max: 5 }),
  batchBytes: fc.constantFrom(150, 400, 1 << 20),
};

/** The database cuts this handshake, and answers it as the pass in JavaScript does. */
async function expectAsInJs(storeId: string, request: HandshakeRequest, sc: { policy: number; batchSize: number; batchBytes: number }) {
  const policy = policies[sc.policy]!;
  expect(cutsInDatabase(request, policy)).toBe(true);
  const settings = settingsOf(sc.batchSize, sc.batchBytes);
  expect(await answer(storeId, policy, request, settings)).toEqual(await answer(storeId, inJs(policy), request, settings));
}

describe('the handshake of a client that holds nothing', () => {
  it('is cut by the database for policies of one rank that sync by key prefix', () => {
    const empty = { have: HaveList.of([]) };
    expect(cutsInDatabase(empty, OPEN_POLICY)).toBe(true);
    expect(cutsInDatabase(empty, policies[3]!)).toBe(true);
    expect(cutsInDatabase({ have: HaveList.of([['a', 1]]) }, OPEN_POLICY)).toBe(false);
    expect(cutsInDatabase({ since: 0 }, OPEN_POLICY)).toBe(true);
    expect(cutsInDatabase({ since: 3, prefix: 'a' }, policies[1]!)).toBe(true);
    expect(cutsInDatabase({ since: 3 }, compilePolicy({ order: [{ prefix: 'a/', rank: 1 }] }))).toBe(false);
    expect(cutsInDatabase({ since: 3 }, compilePolicy({}, { filter: () => true }))).toBe(false);
    expect(cutsInDatabase(empty, compilePolicy({ order: [{ prefix: 'a/', rank: 1 }] }))).toBe(false);
    expect(cutsInDatabase(empty, compilePolicy({}, { filter: () => true }))).toBe(false);
    expect(cutsInDatabase(empty, compilePolicy({ walk: { roots: ['a'], refs: ['$.next'] } }))).toBe(false);
    expect(cutsInDatabase(empty, inJs(OPEN_POLICY))).toBe(false);
  });

  it('answers as the pass in JavaScript does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ...storeAndCuts,
          /** strings the client holds that can name no key: removed whichever way */
          others: fc.constantFrom([], ['a\u0000'], ['', 'a\ud800']),
        }),
        async (sc) => {
          const have = HaveList.of(sc.others.map((k): [string, number] => [k, 1]));
          await expectAsInJs(await storeWith(sc.writes), { have, ...(sc.prefix !== undefined ? { prefix: sc.prefix } : {}) }, sc);
        },
      ),
      { numRuns: 120 },
    );
  }, 300_000);

  it('answers a since handshake as the pass in JavaScript does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ...storeAndCuts,
          /** where `since` falls among the store's revs, from 0 to its head */
          at: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        async (sc) => {
          const since = Math.floor(sc.at * sc.writes.flat().length);
          await expectAsInJs(await storeWith(sc.writes), { since, ...(sc.prefix !== undefined ? { prefix: sc.prefix } : {}) }, sc);
        },
      ),
      { numRuns: 120 },
    );
  }, 300_000);

  it('answers as the pass in JavaScript does across the pages of both passes', async () => {
    // 25,000 keys over 31,000 revs (overwrites and deletes among them): four windows of
    // revs in the first pass, several statements of whole batches in the second.
    const writes: WriteOp[][] = [];
    for (let start = 0; start < 25_000; start += 1000) {
      writes.push(
        Array.from({ length: 1000 }, (_, i) => ({
          op: 'put',
          key: `k/${String(start + i).padStart(6, '0')}`,
          json: JSON.stringify('x'.repeat((start + i) % 97)),
        })),
      );
    }
    writes.push(Array.from({ length: 1000 }, (_, i) => ({ op: 'delete', key: `k/${String(i * 7).padStart(6, '0')}` })));
    for (let round = 0; round < 5; round++) {
      writes.push(Array.from({ length: 1000 }, (_, i) => ({ op: 'put', key: `k/${String(i * 13 + round).padStart(6, '0')}`, json: String(round) })));
    }
    const live = new Set<string>();
    for (const w of writes.flat()) w.op === 'delete' ? live.delete(w.key) : live.add(w.key);
    const storeId = await storeWith(writes);
    for (const [batchSize, batchBytes] of [
      [100, 1 << 20],
      [37, 3000],
    ] as const) {
      const settings = settingsOf(batchSize, batchBytes);
      const inDb = await answer(storeId, OPEN_POLICY, { have: HaveList.of([]) }, settings);
      expect(inDb).toEqual(await answer(storeId, inJs(OPEN_POLICY), { have: HaveList.of([]) }, settings));
      expect((inDb.stale as string[]).length).toBe(live.size);
      // Since a rev inside the first pass's second window: the windows begin there.
      const since = { since: 12_345 };
      expect(await answer(storeId, OPEN_POLICY, since, settings)).toEqual(await answer(storeId, inJs(OPEN_POLICY), since, settings));
    }
  }, 120_000);
});
