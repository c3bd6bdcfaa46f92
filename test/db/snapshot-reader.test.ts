/**
 * withSnapshotReader (src/db/prepared.ts): a second connection that reads
 * what an open repeatable-read transaction reads, for comparisons split
 * across two connections (the handshake's `have` merge). On PGlite, with
 * its one connection, and for a second caller at a time, there is none.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { preparedTx, withSnapshotReader, type PreparedQuery } from '../../src/db/prepared.js';
import { registerStore } from '../../src/store/stores.js';
import { applyWrites } from '../../src/store/writes.js';
import { backend, createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const HEAD = 'select head_rev::int as rev from stores where id = $1::uuid';
const headOf = async (query: PreparedQuery, storeId: string) => (await query<{ rev: number }>(HEAD, [storeId]))[0]!.rev;

describe('withSnapshotReader', () => {
  it.runIf(backend === 'postgres')('reads the snapshot of the transaction, not writes committed after it began', async () => {
    const storeId = randomUUID();
    const main = db.database.db;
    await registerStore(main, storeId, { scope: storeId }, {});
    await applyWrites(main, storeId, [{ op: 'put', key: 'a', json: '1' }]);
    const seen = await main.transaction(
      async (txRaw) => {
        const tx = txRaw as unknown as Db;
        const before = await headOf(preparedTx(tx), storeId);
        // Committed on another connection after the snapshot was taken.
        await applyWrites(main, storeId, [{ op: 'put', key: 'b', json: '2' }]);
        return withSnapshotReader(main, tx, async (reader) => {
          expect(reader).toBeDefined();
          // One second connection at a time in this process: a nested caller reads on its own transaction.
          const nested = await withSnapshotReader(main, tx, async (r) => r);
          expect(nested).toBeUndefined();
          return { before, reader: await headOf(reader!, storeId), own: await headOf(preparedTx(tx), storeId) };
        });
      },
      { isolationLevel: 'repeatable read' },
    );
    expect(seen).toEqual({ before: 1, reader: 1, own: 1 });
    expect(await headOf(async (text, params) => db.database.rows(text, params), storeId)).toBe(2);
    // Released: the next transaction gets a second connection again.
    await main.transaction(async (txRaw) => withSnapshotReader(main, txRaw as unknown as Db, async (r) => expect(r).toBeDefined()), {
      isolationLevel: 'repeatable read',
    });
  });

  it.runIf(backend === 'pglite')('gives no second connection on PGlite, which has one', async () => {
    const main = db.database.db;
    await main.transaction(async (txRaw) => {
      expect(await withSnapshotReader(main, txRaw as unknown as Db, async (r) => r)).toBeUndefined();
    });
  });
});
