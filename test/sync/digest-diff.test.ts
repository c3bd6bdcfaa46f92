/**
 * A digest handshake (src/sync/digests.sql.ts, digest-diff.sql.ts) must
 * answer what a handshake with the whole `have` map answers: the same stale
 * list in delivery order, and the same removed keys among those the replica
 * holds (it may also name deleted keys the replica never held, as `since`
 * does). Checked for random stores, holdings (keys at the server's ts,
 * another spelling of it, an older, newer or finer one; absent keys),
 * prefixes, key filters and orders, and writes that land between the
 * digests and the handshake. The replica folds its digests with
 * @keysync/protocol's DigestFolder, so this also checks that the database
 * hashes keys exactly as the replica does (a mismatch would list every
 * bucket, which the test counts).
 */
import { DigestFolder, differingBuckets, digestBucketOf, hashText } from '@keysync/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy, type StorePolicy, type SyncOptions } from '../../src/options/index.js';
import { parseTsMicros } from '@keysync/protocol';
import type { Db } from '../../src/db/client.js';
import { preparedTx } from '../../src/db/prepared.js';
import { applyWrites, type WriteOp } from '../../src/store/writes.js';
import { compareDigests, foldStore } from '../../src/sync/digests.sql.js';
import { handshake, type HandshakeSettings } from '../../src/sync/handshake.js';
import { HaveList } from '../../src/sync/have-list.js';
import { PARTS_FROM_KEYS } from '../../src/sync/have-diff.sql.js';
import { handshakeBody } from '../../src/sync/stale-list.js';
import { createTestDatabase, registerTestStore, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const KEYS = ['a', 'a/b', 'a/c', 'a/ü', 'a,b', 'a\uE000', 'a😀', 'a"q', 'a\\b', 'ab', 'b', 'b/1', 'é', 'é/ключ', '日本/語', '😀', `long/${'x'.repeat(40)}`];
const key = fc.constantFrom(...KEYS);
const op = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), key, value: fc.integer() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
);
type Spelling = 'same' | 'offset' | 'older' | 'newer' | 'finer';
const spelling = fc.constantFrom<Spelling>('same', 'same', 'same', 'same', 'offset', 'older', 'newer', 'finer');

/** `ts` as the replica holds it. */
function spell(ts: string, how: Spelling): string {
  const us = parseTsMicros(ts)!;
  const at = (micros: number) => `${new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19)}.${String(micros % 1_000_000).padStart(6, '0')}Z`;
  if (how === 'offset') return `${new Date(Math.floor(us / 1000) + 3_600_000).toISOString().slice(0, 19)}.${ts.slice(20, 26)}+01:00`;
  if (how === 'older') return at(us - 1);
  if (how === 'newer') return at(us + 1);
  if (how === 'finer') return `${ts.slice(0, 26)}001Z`;
  return ts;
}

const OPTIONS: SyncOptions[] = [
  {},
  { filter: { prefixes: ['a', 'é'], excludePrefixes: ['a/c'] } },
  { filter: { excludePrefixes: ['b', '😀'] } },
  {
    order: [
      { prefix: 'a/', rank: -1 },
      { prefix: 'é', rank: 2 },
    ],
  },
];
const policies: StorePolicy[] = OPTIONS.map((o) => compilePolicy(o));
const OPEN = policies[0]!;

const scenario = fc.record({
  writes: fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { maxLength: 5 }),
  /** writes after the digests were taken, before the handshake */
  between: fc.array(op, { maxLength: 4 }),
  held: fc.array(fc.tuple(fc.oneof({ weight: 4, arbitrary: key }, { weight: 1, arbitrary: fc.constant('ghost') }), spelling), { maxLength: 16 }),
  prefix: fc.constantFrom(undefined, undefined, 'a', 'é'),
  policy: fc.nat(policies.length - 1),
  buckets: fc.constantFrom(1, 2, 4, 16, 64),
  batchSize: fc.integer({ min: 1, max: 4 }),
  // Small statements cross many steps of the merge, and steps that stop at their last entry of the listed buckets.
  sizes: fc.option(fc.record({ keys: fc.integer({ min: 1, max: 5 }), entries: fc.integer({ min: 1, max: 5 }), parts: fc.integer({ min: 1, max: 3 }) }), {
    nil: undefined,
  }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

const settings = (batchSize: number, diffSizes?: HandshakeSettings['diffSizes']): HandshakeSettings => ({
  batchSize,
  maxBatchSize: 100,
  batchBytes: 1 << 20,
  window: 2,
  timeoutMs: 30_000,
  ...(diffSizes && { diffSizes }),
});

async function write(storeId: string, ops: Scenario['between'], tsOf: Map<string, string>) {
  if (ops.length === 0) return;
  const written = await applyWrites(
    db.database.db,
    storeId,
    ops.map((o): WriteOp => (o.op === 'put' ? { op: 'put', key: o.key, json: String(o.value) } : o)),
  );
  for (const r of written) tsOf.set(r.key, r.ts);
}

async function answer(storeId: string, request: Parameters<typeof handshake>[2], policy: StorePolicy, batchSize: number, sizes?: Scenario['sizes']) {
  const r = await handshake(db.database.db, storeId, request, () => policy, settings(batchSize, sizes));
  const { stale } = JSON.parse(await new Response(handshakeBody(db.database.db, r)).text()) as { stale: string[] };
  return { stale, removed: [...r.removed].sort(), batches: r.batches };
}

async function run(sc: Scenario) {
  const storeId = await registerTestStore(db);
  const tsOf = new Map<string, string>();
  for (const batch of sc.writes) await write(storeId, batch, tsOf);
  const anyTs = [...tsOf.values()][0] ?? '2020-01-01T00:00:00.000000Z';
  const held = new Map<string, number>();
  for (const [k, how] of sc.held) {
    if (held.has(k) || (sc.prefix !== undefined && !k.startsWith(sc.prefix))) continue;
    held.set(k, parseTsMicros(spell(tsOf.get(k) ?? anyTs, how))!);
  }
  // The replica folds what it holds; a ts finer than a microsecond matches nothing, so its bucket is listed anyway.
  const folder = new DigestFolder(sc.buckets);
  const dirty = new Set<number>();
  for (const [k, us] of held) {
    if (Number.isInteger(us)) folder.add(k, us);
    else dirty.add(digestBucketOf(k, sc.buckets));
  }
  const policy = policies[sc.policy]!;
  const digests = await compareDigests(db.database.db, storeId, { buckets: sc.buckets, digests: folder.bytes(), prefix: sc.prefix }, () => policy);
  // Asked without the replica's, the store's digests: the replica's comparison of them names the same buckets.
  const store = await compareDigests(db.database.db, storeId, { buckets: sc.buckets, prefix: sc.prefix }, () => policy);
  expect(differingBuckets(folder.words, Buffer.from(store.digests!, 'base64'))).toEqual(digests.differ);
  await write(storeId, sc.between, tsOf);
  const listed = [...new Set([...digests.differ, ...dirty])].sort((a, b) => a - b);
  const listedSet = new Set(listed);
  const subset = HaveList.of([...held].filter(([k]) => listedSet.has(digestBucketOf(k, sc.buckets))));
  const byDigest = await answer(
    storeId,
    { have: subset, prefix: sc.prefix, digest: { rev: digests.rev, optionsVersion: digests.optionsVersion, buckets: sc.buckets, listed } },
    policy,
    sc.batchSize,
    sc.sizes,
  );
  const whole = await answer(storeId, { have: HaveList.of(held), prefix: sc.prefix }, policy, sc.batchSize);
  return { byDigest, whole, held, differ: digests.differ.length, buckets: sc.buckets };
}

describe('the digest handshake', () => {
  it('hashes as PostgreSQL hashtextextended does', async () => {
    const samples: Array<[string, number]> = [
      ['', 0],
      ['abc', 0],
      ['abc', 1_700_000_000_000_037],
      ['héllo wörld, this is long', 5],
      ['😀/ключ/日本語', 1_764_000_000_123_456],
      ['x'.repeat(1000), -1],
      ['a'.repeat(12), 2 ** 32],
      ['a'.repeat(23), 2 ** 32 - 1],
    ];
    for (let i = 0; i < 200; i++) samples.push([`key/${i}/${'é'.repeat(i % 13)}`, i * 9_876_543_210]);
    const rows = await db.database.rows<{ h: string }>(
      'select hashtextextended(k collate "C", s)::text as h from unnest($1::text[], $2::bigint[]) with ordinality as t(k, s, n) order by n',
      [samples.map(([k]) => k), samples.map(([, s]) => String(s))],
    );
    const ours = samples.map(([k, s]) => {
      const [hi, lo] = hashText(k, s);
      return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)).toString();
    });
    expect(ours).toEqual(rows.map((r) => r.h));
  });

  it('folds the same digests in one statement and in steps of any size, as the replica does', async () => {
    const storeId = await registerTestStore(db);
    // Keys of every kind, several per bucket, a deleted one, and a key written twice.
    const ops = [...KEYS, ...Array.from({ length: 60 }, (_, i) => `k/${i}`)].map((k, i): WriteOp => ({ op: 'put', key: k, json: String(i) }));
    const written = await applyWrites(db.database.db, storeId, [...ops, { op: 'delete', key: 'k/3' }, { op: 'put', key: 'a/b', json: '1' }]);
    const tsOf = new Map<string, string>();
    for (const w of written) {
      if (w.deleted) tsOf.delete(w.key);
      else tsOf.set(w.key, w.ts);
    }
    const expected = (buckets: number, served: (k: string) => boolean) => {
      const folder = new DigestFolder(buckets);
      for (const [k, ts] of tsOf) if (served(k)) folder.add(k, parseTsMicros(ts)!);
      return Array.from(folder.words);
    };
    const folded = (buckets: number, prefix: string | undefined, filter: { prefixes: string[]; excludePrefixes: string[] }, stepKeys: number | undefined) =>
      db.database.db.transaction(async (tx) => Array.from(await foldStore(preparedTx(tx as unknown as Db), storeId, buckets, prefix, filter, stepKeys)));
    const none = { prefixes: [], excludePrefixes: [] };
    // Steps of one key, of a few (76 keys are served: steps of 19 end exactly at the last one, of 7 inside a step), and of more than all.
    for (const stepped of [undefined, 1, 7, 19, 20_000]) {
      expect(await folded(16, undefined, none, stepped)).toEqual(expected(16, () => true));
      expect(await folded(4, 'a', none, stepped)).toEqual(expected(4, (k) => k.startsWith('a')));
      expect(await folded(8, undefined, { prefixes: ['a', 'k/'], excludePrefixes: ['a/'] }, stepped)).toEqual(
        expected(8, (k) => (k.startsWith('a') || k.startsWith('k/')) && !k.startsWith('a/')),
      );
    }
  });

  it('answers what a handshake with the whole have map answers', async () => {
    let differed = 0;
    let matched = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const { byDigest, whole, held, differ, buckets } = await run(sc);
        expect(byDigest.stale).toEqual(whole.stale);
        expect(byDigest.batches).toEqual(whole.batches);
        expect(byDigest.removed.filter((k) => held.has(k))).toEqual(whole.removed);
        if (differ > 0) differed++;
        if (held.size > 0 && differ < buckets) matched++;
      }),
      { numRuns: 150 },
    );
    // Both kinds of bucket occur: had the hashes disagreed, every bucket would differ.
    expect(differed).toBeGreaterThan(20);
    expect(matched).toBeGreaterThan(20);
  }, 300_000);

  it('compares the listed buckets of a large store in parts (two connections on PostgreSQL), as the whole map does', async () => {
    const storeId = await registerTestStore(db);
    const n = PARTS_FROM_KEYS + 2000;
    const tsOf = new Map<string, string>();
    for (let from = 0; from < n; from += 5000) {
      const ops = Array.from(
        { length: Math.min(5000, n - from) },
        (_, i): WriteOp => ({ op: 'put', key: `k/${String(from + i).padStart(6, '0')}`, json: String(i) }),
      );
      for (const r of await applyWrites(db.database.db, storeId, ops)) tsOf.set(r.key, r.ts);
    }
    // Every 97th key is missing, every 89th held at an older ts; and keys the store never had.
    const held = new Map<string, number>();
    [...tsOf].forEach(([k, ts], i) => {
      if (i % 97 !== 0) held.set(k, parseTsMicros(ts)! - (i % 89 === 0 ? 1 : 0));
    });
    for (let i = 0; i < n; i += 1000) held.set(`k/${String(i).padStart(6, '0')}x`, 1);
    const buckets = 4096;
    const folder = new DigestFolder(buckets);
    for (const [k, us] of held) folder.add(k, us);
    const digests = await compareDigests(db.database.db, storeId, { buckets, digests: folder.bytes() }, () => OPEN);
    await applyWrites(db.database.db, storeId, [
      { op: 'put', key: 'k/000005', json: '"later"' },
      { op: 'delete', key: 'k/000006' },
    ]);
    const listed = new Set(digests.differ);
    const subset = HaveList.of([...held].filter(([k]) => listed.has(digestBucketOf(k, buckets))));
    const digest = { rev: digests.rev, optionsVersion: digests.optionsVersion, buckets, listed: digests.differ };
    const byDigest = await answer(storeId, { have: subset, digest }, OPEN, 1000);
    const whole = await answer(storeId, { have: HaveList.of(held) }, OPEN, 1000);
    expect(byDigest.stale).toEqual(whole.stale);
    expect(byDigest.batches).toEqual(whole.batches);
    expect(byDigest.removed.filter((k) => held.has(k))).toEqual(whole.removed);
    expect(whole.stale.length).toBeGreaterThan(n / 97);
  }, 120_000);
});
