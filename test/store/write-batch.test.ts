import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeId as deriveStoreId } from '@keysync/protocol';
import { getEntry } from '../../src/store/reads.js';
import { registerStore } from '../../src/store/stores.js';
import { WriteBatcher } from '../../src/store/write-batch.js';
import type { WriteOp } from '../../src/store/writes.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function newStore(): Promise<string> {
  const config = { scope: '00000000-0000-4000-8000-000000000002', name: `batch-${Math.random()}` };
  const id = deriveStoreId(config);
  await registerStore(db.database.db, id, config, {});
  return id;
}

const puts = (prefix: string, n: number): WriteOp[] => Array.from({ length: n }, (_, i) => ({ op: 'put', key: `${prefix}${i}`, json: String(i) }));

describe('group commit of one store', () => {
  it('gives concurrent requests disjoint runs of consecutive revs in op order, every op stored', async () => {
    const id = await newStore();
    const commits: number[] = [];
    const batcher = new WriteBatcher(db.database.db, ({ headRev }) => commits.push(headRev));
    const requests = Array.from({ length: 20 }, (_, r) => puts(`r${r}/`, 1 + (r % 4)));
    const answers = await Promise.all(requests.map((ops) => batcher.write(id, ops)));

    const revs = answers.flatMap((results) => results.map((x) => x.rev)).sort((a, b) => a - b);
    const total = requests.reduce((n, ops) => n + ops.length, 0);
    expect(revs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    for (const [r, results] of answers.entries()) {
      expect(results.map((x) => x.key)).toEqual(requests[r]!.map((op) => op.key));
      for (let i = 1; i < results.length; i++) {
        expect(results[i]!.rev).toBe(results[i - 1]!.rev + 1);
        expect(results[i]!.ts > results[i - 1]!.ts).toBe(true);
      }
    }
    // Fewer commits than requests: the ones that arrived together went together.
    expect(commits.length).toBeLessThan(requests.length);
    expect(Math.max(...commits)).toBe(total);
    for (const [r, ops] of requests.entries()) {
      const entry = await getEntry(db.database.db, id, ops[0]!.key);
      expect(entry?.rev).toBe(answers[r]![0]!.rev);
    }
  });

  it('keeps the write with the highest rev of a key that concurrent requests all wrote', async () => {
    const id = await newStore();
    const batcher = new WriteBatcher(db.database.db);
    const values = ['"a"', '"b"', '"c"', '"d"', '"e"'];
    const answers = await Promise.all(values.map((json) => batcher.write(id, [{ op: 'put', key: 'k', json }])));
    const revs = answers.map((results) => results[0]!.rev);
    expect(new Set(revs).size).toBe(values.length);
    const latest = revs.indexOf(Math.max(...revs));
    expect(await getEntry(db.database.db, id, 'k')).toMatchObject({ rev: revs[latest], json: values[latest] });
  });

  it('fails only the request PostgreSQL refuses, not the others of its batch', async () => {
    const id = await newStore();
    const batcher = new WriteBatcher(db.database.db, undefined, { inFlight: 1 });
    // The first request runs alone; the next three wait and go as one batch.
    const first = batcher.write(id, puts('a', 1));
    const good1 = batcher.write(id, puts('b', 2));
    const bad = batcher.write(id, [{ op: 'put', key: 'c', bytes: new Uint8Array([1]), contentType: 'x/\u0000' }]);
    const good2 = batcher.write(id, puts('d', 1));
    await expect(bad).rejects.toMatchObject({ code: expect.stringMatching(/^22/) });
    const results = await Promise.all([first, good1, good2]);
    expect(results.map((r) => r.map((x) => x.key))).toEqual([['a0'], ['b0', 'b1'], ['d0']]);
    expect(await getEntry(db.database.db, id, 'c')).toBeUndefined();
    expect((await getEntry(db.database.db, id, 'd0'))?.json).toBe('0');
  });

  it('answers every request of a missing store with 404', async () => {
    const batcher = new WriteBatcher(db.database.db);
    const missing = '00000000-0000-5000-8000-000000000000';
    const answers = await Promise.allSettled([
      batcher.write(missing, puts('x', 1)),
      batcher.write(missing, puts('y', 1)),
      batcher.write(missing, puts('z', 1)),
    ]);
    for (const a of answers) expect(a).toMatchObject({ status: 'rejected', reason: { kind: 'not-found' } });
  });
});
