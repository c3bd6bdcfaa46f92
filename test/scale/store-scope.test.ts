/**
 * Every SQL statement the server sends during a run touches one store (or is
 * a listed exception). The statements are captured at the driver
 * (KEYSYNC_SQL_CAPTURE) while a run exercises every route: writes of every
 * kind, reads, sync sessions (done, cancelled, refused), live feeds, options
 * changes, token revocation, store deletion and housekeeping. PostgreSQL only
 * (the capture hooks postgres.js; the SQL is the same on PGlite).
 *
 * KEYSYNC_SQL_CAPTURE_CHECK=<file> also checks a capture of another run, e.g.
 * the whole suite: `KEYSYNC_SQL_CAPTURE=/tmp/all.jsonl TEST_DATABASE_URL=… npx vitest run`.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backend, createTestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { startServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { ADMIN, admin, adminStore, bearer, issueToken } from '../security/support.js';
import { checkStatement, type Captured } from './store-scope.js';

const read = (file: string): Captured[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Captured);

function report(captured: Captured[]) {
  const verdicts = captured.map(checkStatement);
  const failing = new Map<string, string>();
  for (const v of verdicts) if (v.problem) failing.set(v.query, v.problem);
  const exceptions = new Map<string, number>();
  for (const v of verdicts) if (v.exception) exceptions.set(v.exception, (exceptions.get(v.exception) ?? 0) + 1);
  return { verdicts, failing: [...failing].map(([query, problem]) => `${problem}\n    ${query}`), exceptions };
}

describe('the store-scope check', () => {
  const S = '58c4b668-ca6b-5f9d-8989-3a4a0ff13619';
  const T = '11111111-1111-5111-8111-111111111111';
  it('refuses statements that are not pinned to one store', () => {
    // The token lookup by hash alone, as it was.
    expect(checkStatement({ query: 'select "id", "store_id", "scope" from "tokens" where "tokens"."hash" = $1', parameters: ['h'] }).problem).toMatch(/tokens/);
    expect(checkStatement({ query: 'delete from "sync_chunks" where "sync_chunks"."session_id" in ($1, $2)', parameters: [S, T] }).problem).toBeDefined();
    expect(checkStatement({ query: 'select * from entries where store_id = $1 or store_id = $2', parameters: [S, T] }).problem).toMatch(/2 stores/);
    expect(checkStatement({ query: 'insert into "tokens" ("store_id", "id") values ($1, $2), ($3, $4)', parameters: [S, 'a', T, 'b'] }).problem).toMatch(
      /2 stores/,
    );
  });
  it('passes statements pinned to one store', () => {
    expect(
      checkStatement({ query: 'select "id" from "tokens" where ("tokens"."store_id" = $1 and "tokens"."hash" = $2)', parameters: [S, 'h'] }).problem,
    ).toBeUndefined();
    expect(
      checkStatement({ query: 'insert into "tokens" ("store_id", "id") values ($1, $2), ($3, $4)', parameters: [S, 'a', S, 'b'] }).problem,
    ).toBeUndefined();
  });
});

describe.skipIf(backend !== 'postgres')('every statement touches one store', () => {
  it('holds for a run over every route', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'keysync-sql-')), 'capture.jsonl');
    const previous = process.env.KEYSYNC_SQL_CAPTURE;
    process.env.KEYSYNC_SQL_CAPTURE = file;
    const db = await createTestDatabase();
    if (previous === undefined) delete process.env.KEYSYNC_SQL_CAPTURE;
    else process.env.KEYSYNC_SQL_CAPTURE = previous;
    const server = await startServer(db, { adminToken: ADMIN, limits: { maxSessionsPerClient: 1, tombstoneRetentionMs: 0 } });
    try {
      const A = await adminStore(server);
      const B = await adminStore(server);
      const write = bearer((await issueToken(server, A, 'write')).token);
      const reader = await issueToken(server, A, 'read');
      const path = (s: string, rest = '') => `/v1/stores/${s}${rest}`;
      const ok = async (p: Promise<{ status: number; body: any }>, status = 200) => {
        const res = await p;
        expect(res.status, JSON.stringify(res.body)).toBe(status);
        return res.body;
      };
      const feed = await openFeed(server, A, '', { headers: bearer(reader.token) });
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
      const other = await openFeed(server, B, '?since=0', { headers: admin });

      await ok(call(server, path(A, '/keys/a'), json({ v: 1 }, { method: 'PUT', headers: write })));
      await ok(call(server, path(A, '/keys/bin'), { method: 'PUT', headers: { ...write, 'content-type': 'image/png' }, body: new Uint8Array([1, 2, 3]) }));
      await ok(
        call(server, path(A, '/keys/a'), json({ v: 2 }, { method: 'PUT', headers: { ...write, 'if-match': '"1"' } })).then((r) => ({
          ...r,
          status: r.status === 412 ? 200 : r.status,
        })),
      );
      await ok(call(server, path(A, '/keys/new'), json(1, { method: 'PUT', headers: { ...write, 'if-none-match': '*' } })));
      await ok(
        call(
          server,
          path(A, '/writes'),
          json(
            {
              ops: [
                { op: 'put', key: 'b', value: 1 },
                { op: 'delete', key: 'new' },
              ],
            },
            { headers: write },
          ),
        ),
      );
      await ok(call(server, path(A, '/keys/gone'), json(1, { method: 'PUT', headers: write })));
      await ok(call(server, path(A, '/keys/gone'), { method: 'DELETE', headers: write }));
      await ok(call(server, path(B, '/keys/x'), json(1, { method: 'PUT', headers: admin })));
      await ok(call(server, path(A, '/keys/a'), { headers: write }));
      await ok(call(server, path(A, '/keys'), { headers: write }));
      await ok(call(server, path(A), { headers: write }));
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'delete' && e.data.key === 'gone'));
      await other.waitFor(({ events: evs }) => evs.some((e) => e.data?.key === 'x'));

      // Sync: a session run to the end, one cancelled, one refused by the per-client quota.
      const hs = await ok(call(server, path(A, '/sync'), json({ have: { a: '2020-01-01T00:00:00.000000Z' }, batchSize: 2 }, { headers: write })), 201);
      for (let c = 0; c < hs.batches; c++) {
        await ok(call(server, path(A, `/sync/${hs.sessionId}/batches/${c}`), { headers: write }));
        await ok(call(server, path(A, `/sync/${hs.sessionId}`), { headers: write }));
        await ok(call(server, path(A, `/sync/${hs.sessionId}/ack`), json({ cursor: c }, { headers: write })));
      }
      await ok(call(server, path(A, `/sync/${hs.sessionId}/ack`), json({ cursor: hs.batches - 1 }, { headers: write })));
      const open = await ok(call(server, path(A, '/sync'), json({ since: 0, batchSize: 1 }, { headers: write })), 201);
      await ok(call(server, path(A, '/sync'), json({ since: 0 }, { headers: write })), 429);
      await ok(call(server, path(A, `/sync/${open.sessionId}`), { method: 'DELETE', headers: write }), 204);
      // The full paths of fetch and ack (a session with a value filter set since).
      const slow = await ok(call(server, path(A, '/sync'), json({ since: 0, batchSize: 1 }, { headers: admin })), 201);
      await ok(call(server, path(A), json({ options: { filter: { prefixes: ['a', 'b'] } } }, { method: 'PATCH', headers: admin })));
      await ok(call(server, path(A, `/sync/${slow.sessionId}/batches/0`), { headers: admin }));
      await ok(call(server, path(A, `/sync/${slow.sessionId}/ack`), json({ cursor: 0 }, { headers: admin })));
      await ok(call(server, path(A, `/sync/${slow.sessionId}/ack`), json({ cursor: 0 }, { headers: admin })));

      // Admin: tokens, list, revoke (ends the feed), housekeeping, store list, deletion.
      await ok(call(server, path(A, '/tokens'), { headers: admin }));
      await ok(call(server, path(A, `/tokens/${reader.id}`), { method: 'DELETE', headers: admin }), 204);
      await feed.ended;
      await ok(call(server, path(A, '/keys/a'), { headers: bearer('not-a-token') }), 401);
      await ok(call(server, '/v1/stores', { headers: admin }));
      await ok(call(server, '/metrics'));
      await server.keysync.housekeeping();
      await ok(call(server, path(B), { method: 'DELETE', headers: admin }), 204);
      await other.ended;
    } finally {
      await server.close();
      await db.drop();
    }

    const captured = read(file);
    expect(captured.length).toBeGreaterThan(50);
    const { failing, exceptions } = report(captured);
    expect(failing, `statements not scoped to one store:\n${failing.join('\n')}`).toEqual([]);
    // Housekeeping and the store list ran, so their exceptions were exercised (the list stays honest).
    expect([...exceptions.keys()].some((r) => r.startsWith('housekeeping'))).toBe(true);
    expect([...exceptions.keys()].some((r) => r.startsWith('GET /v1/stores'))).toBe(true);
  }, 120_000);

  const other = process.env.KEYSYNC_SQL_CAPTURE_CHECK;
  it.skipIf(!other || !existsSync(other))('holds for the capture in KEYSYNC_SQL_CAPTURE_CHECK', () => {
    const { failing } = report(read(other!));
    expect(failing, `statements not scoped to one store:\n${failing.join('\n')}`).toEqual([]);
  });
});
