/**
 * A database backend that dies under an open transaction must cost only that
 * transaction: a catchable error, then the pool carries on. postgres.js 3.4.9
 * instead wrote the transaction's ROLLBACK to the closed socket from a
 * setImmediate and threw where nobody can catch it, killing the process
 * (porsager/postgres#1208; it took the server down in the outage test), and
 * let the dead backend's error fail the next connection's first query.
 * patches/postgres+3.4.9.patch fixes both; this test fails without it.
 * PostgreSQL only: PGlite runs in process, with no socket to lose.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparedDb } from '../../src/db/prepared.js';
import { backend, createTestDatabase, type TestDatabase } from '../support/db.js';

let td: TestDatabase | undefined;
beforeAll(async () => {
  if (backend === 'postgres') td = await createTestDatabase({ migrated: false });
});
afterAll(async () => td?.drop());

describe.skipIf(backend !== 'postgres')('a backend killed under an open transaction (PostgreSQL)', () => {
  it('rejects that transaction with a catchable error, throws nothing uncaught, and the pool answers the next queries', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    const killer = postgres(td!.url!, { max: 1, onnotice: () => {} });
    try {
      const raw = preparedDb(td!.database.db);
      let pid: number | undefined;
      const tx = raw.transaction(async (query) => {
        pid = (await query<{ pid: number }>('select pg_backend_pid() as pid'))[0]!.pid;
        await query('select pg_sleep(5)');
      });
      const outcome = tx.then(
        () => 'committed',
        (err: { code?: string }) => err.code ?? 'rejected',
      );
      while (pid === undefined) await new Promise((r) => setTimeout(r, 20));
      await killer`select pg_terminate_backend(${pid})`;
      expect(await outcome).toBe('CONNECTION_CLOSED');

      // The immediate that used to throw runs right after; give it a few turns.
      await new Promise((r) => setTimeout(r, 200));
      expect(uncaught).toEqual([]);
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => td!.database.rows<{ i: number }>('select $1::int as i', [i])));
      expect(answers.map((rows) => rows[0]!.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      process.off('uncaughtException', onUncaught);
      await killer.end();
    }
  });
});
