/**
 * Shared digest folds under concurrent writes: every answer, whether its
 * fold ran for it, was joined while running or was kept, must be the store's
 * digests at the rev it names. Random writes and digest requests (random
 * bucket counts and prefixes) go to the database at once through one
 * DigestFolds; afterwards the writes' results give the store at every rev,
 * and each answer is checked against DigestFolder's fold of it.
 */
import { DigestFolder, parseTsMicros } from '@keysync/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/options/index.js';
import { applyWrites, type WriteOp, type WriteResult } from '../../src/store/writes.js';
import { DigestFolds } from '../../src/sync/digest-folds.js';
import { compareDigests, type DigestAnswer } from '../../src/sync/digests.sql.js';
import { createTestDatabase, registerTestStore, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const KEYS = ['a', 'a/1', 'a/2', 'b', 'b/1', 'b/2', 'c', 'é', '日本'];
const OPEN = compilePolicy({});

const writeStep = fc.record({
  kind: fc.constant('write' as const),
  ops: fc.array(
    fc.oneof(
      fc.constantFrom(...KEYS).map((key): WriteOp => ({ op: 'put', key, json: '1' })),
      fc.constantFrom(...KEYS).map((key): WriteOp => ({ op: 'delete', key })),
    ),
    {
      minLength: 1,
      maxLength: 4,
    },
  ),
});
const askStep = fc.record({
  kind: fc.constant('ask' as const),
  buckets: fc.constantFrom(1, 4, 8),
  prefix: fc.constantFrom(undefined, 'a', 'b/'),
  copies: fc.integer({ min: 1, max: 4 }),
});

/** The store's live keys and their ts at `rev`, from every write's results. */
function storeAt(results: WriteResult[], rev: number): Map<string, string> {
  const state = new Map<string, string>();
  for (const r of [...results].sort((x, y) => x.rev - y.rev)) {
    if (r.rev > rev) break;
    if (r.deleted) state.delete(r.key);
    else state.set(r.key, r.ts);
  }
  return state;
}

describe('shared digest folds under concurrent writes', () => {
  it('answer every request with the digests of the store at the rev it names', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(writeStep, askStep), { minLength: 4, maxLength: 16 }), async (steps) => {
        const storeId = await registerTestStore(db);
        const folds = new DigestFolds(1 << 20);
        const results: WriteResult[] = [];
        const answers: Array<{ buckets: number; prefix: string | undefined; answer: Promise<DigestAnswer> }> = [];
        const writes: Promise<unknown>[] = [];
        for (const [i, step] of steps.entries()) {
          if (step.kind === 'write') writes.push(applyWrites(db.database.db, storeId, step.ops).then((r) => results.push(...r)));
          else
            for (let copy = 0; copy < step.copies; copy++) {
              const { buckets, prefix } = step;
              answers.push({ buckets, prefix, answer: compareDigests(db.database.db, storeId, { buckets, prefix }, () => OPEN, folds) });
            }
          // Now and then a turn of the event loop, so some requests find folds running or done.
          if (i % 3 === 2) await new Promise((resolve) => setImmediate(resolve));
        }
        await Promise.all(writes);
        for (const { buckets, prefix, answer } of answers) {
          const got = await answer;
          const folder = new DigestFolder(buckets);
          for (const [key, ts] of storeAt(results, got.rev)) if (key.startsWith(prefix ?? '')) folder.add(key, parseTsMicros(ts)!);
          expect(got.digests).toBe(Buffer.from(folder.bytes()).toString('base64'));
        }
        folds.close();
      }),
      { numRuns: 25 },
    );
  });
});
