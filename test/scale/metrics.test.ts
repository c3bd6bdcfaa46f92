/**
 * /metrics carries what an operator of several instances needs: delivery
 * lag, notices heard and LISTEN health, feeds opened and ended by reason,
 * sync sessions by outcome, refusals by limit, housekeeping, and (on
 * PostgreSQL) the pool's connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';
import { ADMIN, admin, adminStore, bearer, issueToken } from '../security/support.js';

let db: TestDatabase;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  const limits = { maxSessionsPerClient: 1, maxSubscribersPerClient: 1, tombstoneRetentionMs: 0 };
  a = await startServer(db, { adminToken: ADMIN, limits });
  b = await startServer(db, { adminToken: ADMIN, limits });
}, 60_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

/** The scraped samples: `name{labels}` -> value. */
async function scrape(server: TestServer): Promise<Map<string, number>> {
  const res = await server.fetch('/metrics');
  expect(res.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

describe('/metrics', () => {
  it('counts what happens across instances, by reason, outcome and limit', async () => {
    const storeId = await adminStore(a);
    const token = bearer((await issueToken(a, storeId, 'read')).token);
    const feed = await openFeed(b, storeId, '', { headers: token });
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    // A second feed of the same client is over its cap (1): a 429 by KEYSYNC_MAX_SUBSCRIBERS_PER_CLIENT.
    expect((await openFeed(b, storeId, '', { headers: token })).status).toBe(429);

    // Writes on A reach the feed on B: a commit notice, then delivery.
    for (let i = 0; i < 3; i++) {
      expect((await call(a, `/v1/stores/${storeId}/keys/k${i}`, json(i, { method: 'PUT', headers: admin }))).status).toBe(200);
    }
    expect((await call(a, `/v1/stores/${storeId}/keys/k0`, { method: 'DELETE', headers: admin })).status).toBe(200);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'delete'));

    // Sessions: one done, one cancelled, one refused by the per-client cap.
    const hs = (await call(a, `/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 10 }, { headers: token }))).body;
    await call(b, `/v1/stores/${storeId}/sync/${hs.sessionId}/batches/0`, { headers: token });
    expect((await call(b, `/v1/stores/${storeId}/sync/${hs.sessionId}/ack`, json({ cursor: 0 }, { headers: token }))).body.done).toBe(true);
    const open = (await call(a, `/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 1 }, { headers: token }))).body;
    expect((await call(a, `/v1/stores/${storeId}/sync`, json({ have: {} }, { headers: token }))).status).toBe(429);
    expect((await call(a, `/v1/stores/${storeId}/sync/${open.sessionId}`, { method: 'DELETE', headers: token })).status).toBe(204);

    // Housekeeping purges the tombstone (retention 0).
    expect((await a.keysync.housekeeping()).purged).toBeGreaterThanOrEqual(1);

    // Revoking the token on A ends the feed on B.
    const tokens = (await call(a, `/v1/stores/${storeId}/tokens`, { headers: admin })).body.items as Array<{ id: string }>;
    expect((await call(a, `/v1/stores/${storeId}/tokens/${tokens[0]!.id}`, { method: 'DELETE', headers: admin })).status).toBe(204);
    await feed.ended;

    let onB = new Map<string, number>();
    const deadline = Date.now() + 10_000;
    for (;;) {
      onB = await scrape(b);
      if ((onB.get('keysync_live_feeds_ended_total{reason="revoked"}') ?? 0) >= 1 && onB.get('keysync_listen_up') === 1) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const onA = await scrape(a);
    expect(onB.get('keysync_live_feeds_opened_total')).toBe(1);
    expect(onB.get('keysync_live_feeds_ended_total{reason="revoked"}')).toBe(1);
    expect(onB.get('keysync_refusals_total{status="429",limit="KEYSYNC_MAX_SUBSCRIBERS_PER_CLIENT"}')).toBe(1);
    expect(onA.get('keysync_refusals_total{status="429",limit="KEYSYNC_MAX_SESSIONS_PER_CLIENT"}')).toBe(1);
    expect(onB.get('keysync_notices_received_total{kind="commit"}')).toBeGreaterThanOrEqual(1);
    expect(onB.get('keysync_notices_received_total{kind="revoked"}')).toBe(1);
    expect(onB.get('keysync_notices_received_total{kind="ping"}')).toBeGreaterThanOrEqual(1);
    expect(onB.get('keysync_listen_up')).toBe(1);
    expect(onB.get('keysync_live_delivery_lag_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(onB.get('keysync_sync_sessions_ended_total{outcome="done"}')).toBe(1);
    expect(onA.get('keysync_sync_sessions_ended_total{outcome="cancelled"}')).toBe(1);
    expect(onA.get('keysync_housekeeping_runs_total{result="ran"}')).toBe(1);
    expect(onA.get('keysync_purged_tombstones_total')).toBeGreaterThanOrEqual(1);
    expect(onB.get('keysync_tailer_read_errors_total')).toBe(0);
    if (db.database.kind === 'postgres') {
      expect(onA.get('keysync_db_pool_connections{state="max"}')).toBe(10);
      expect(onA.get('keysync_db_pool_connections{state="open"}')).toBeGreaterThanOrEqual(1);
      expect(onA.has('keysync_db_pool_connections{state="busy"}')).toBe(true);
    }
  }, 60_000);
});
