/**
 * The `have` comparison runs in SQL for stores whose policy needs no values
 * (src/sync/handshake.sql.ts) and in JavaScript otherwise. Both must give
 * the same stale list (delivery order) and removed list (map order) for any
 * store, `have` map, prefix and key filter or order: ts spelled differently
 * for the same instant, ts finer than a microsecond, unicode keys, ghosts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy, OPEN_POLICY, type StorePolicy } from '../../src/options/index.js';
import { handshake } from '../../src/sync/handshake.js';
import { diffableInSql } from '../../src/sync/handshake.sql.js';
import { haveMicros } from '../../src/sync/have-ts.js';
import { bulk, newStore } from '../support/http.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();
const SETTINGS = { batchSize: 3, maxBatchSize: 1000, batchBytes: 4 << 20, window: 1, timeoutMs: 30_000 };

// Few keys, so puts, deletes and `have` entries meet; some under a shared prefix, some unicode.
const KEYS = ['a', 'a/b', 'a/c', 'a/ü', 'b', 'b/1', 'é', 'é/ключ', '日本/語', '😀', 'a😀', 'ab'];
const key = fc.constantFrom(...KEYS);
const op = fc.oneof(fc.record({ op: fc.constant('put'), key, value: fc.integer() }), fc.record({ op: fc.constant('delete'), key }));

/** How the client spells (or misspells) a key's ts in its `have` map. */
type Spelling = 'same' | 'offset' | 'nanos' | 'finer' | 'old' | 'other-key';
const spelling = fc.constantFrom<Spelling>('same', 'offset', 'nanos', 'finer', 'old', 'other-key');

/** `ts` (the server's spelling) in another RFC 3339 spelling of the same instant, or another instant. */
function spell(ts: string, how: Spelling, otherTs: string): string {
  switch (how) {
    case 'same':
      return ts;
    case 'offset': {
      // The same instant at +01:00.
      const date = new Date(ts.slice(0, 23) + 'Z');
      date.setUTCHours(date.getUTCHours() + 1);
      return `${date.toISOString().slice(0, 19)}.${ts.slice(20, 26)}+01:00`;
    }
    case 'nanos':
      return `${ts.slice(0, 26)}000Z`;
    case 'finer':
      return `${ts.slice(0, 26)}001Z`;
    case 'old':
      return '2001-02-03T04:05:06.789Z';
    case 'other-key':
      return otherTs;
  }
}

const policies: Array<[string, StorePolicy]> = [
  ['open', OPEN_POLICY],
  ['filter', compilePolicy({ filter: { prefixes: ['a', 'é'], excludePrefixes: ['a/c'] } })],
  [
    'order',
    compilePolicy({
      order: [
        { prefix: 'a/', rank: -1 },
        { prefix: 'é', rank: 2 },
      ],
    }),
  ],
  ['filter and order', compilePolicy({ filter: { excludePrefixes: ['b'] }, order: [{ prefix: '日', rank: 1 }] })],
];

/** The same policy with a value filter that keeps everything: the JavaScript path, same answer expected. */
const inJs = (policy: StorePolicy): StorePolicy => ({ ...policy, includesKey: policy.includesKey, rankOf: policy.rankOf, includesValue: () => true });

describe('the have diff in SQL', () => {
  it('is taken for stores without value filter or walk', () => {
    for (const [, policy] of policies) expect(diffableInSql(policy)).toBe(true);
    expect(diffableInSql(inJs(OPEN_POLICY))).toBe(false);
  });

  it('gives the same stale and removed lists as the JavaScript scan', async () => {
    const db = env.server.keysync.database.db;
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 0, maxLength: 25 }),
        fc.array(fc.tuple(fc.oneof(key, fc.constantFrom('ghost', 'a/ghost', 'é/ghost', 'a\u0000', 'a\ud800')), spelling), { maxLength: 16 }),
        fc.constantFrom(undefined, 'a', 'é', 'a/'),
        fc.constantFrom(...policies),
        async (ops, held, prefix, [, policy]) => {
          const storeId = await newStore(env.server);
          const tsOf = new Map<string, string>();
          if (ops.length > 0) for (const r of await bulk(env.server, storeId, ops)) tsOf.set(r.key, r.ts);
          const anyTs = [...tsOf.values()][0] ?? '2020-01-01T00:00:00.000000Z';
          const have: Record<string, string> = {};
          for (const [k, how] of held) have[k] = spell(tsOf.get(k) ?? anyTs, how, anyTs);

          const run = async (p: StorePolicy) => {
            const result = await handshake(db, storeId, { have: haveMicros(have, prefix, Infinity), prefix }, () => p, SETTINGS);
            return { stale: result.chunks!.flat(), removed: result.removed, headRev: result.headRev, batches: result.batches };
          };
          const inSql = await run(policy);
          expect(inSql).toEqual(await run(inJs(policy)));
        },
      ),
      { numRuns: 50 },
    );
  }, 180_000);
});
