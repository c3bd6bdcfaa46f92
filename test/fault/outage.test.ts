/**
 * Database outage: a private PostgreSQL cluster (own folder, own port; the
 * shared one is never touched) is stopped for a few seconds while a client
 * writes, syncs and follows the live feed. Requests must fail fast with 503
 * problem+json and Retry-After (no hang, no 500), /readyz must say 503, and
 * everything must recover by itself once the database is back, the live
 * subscriber losing no change (it resumes with Last-Event-ID if cut).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { call, json, newStore } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { openFeed, type Feed } from '../support/sse.js';
import { canRunPrivateCluster, createPrivateCluster, type PrivateCluster } from './pg-cluster.js';

const ENABLED = !!process.env.TEST_DATABASE_URL && canRunPrivateCluster();
const REASON = !process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL is unset' : 'no PostgreSQL binaries or postgres user for a private cluster';

let cluster: PrivateCluster | undefined;
let server: TestServer | undefined;
const logged: string[] = [];

beforeAll(async () => {
  if (!ENABLED) return;
  cluster = await createPrivateCluster();
  const database = await openDatabase({ databaseUrl: cluster.url, maxConnections: 10 });
  await migrate(database);
  server = await startServer({ database, drop: () => database.close() }, { housekeepingMs: 0 });
}, 60_000);

afterAll(async () => {
  // Always: stop the private cluster and remove its folder, whatever happened above.
  try {
    await server?.close();
    await server?.keysync.database.close();
  } catch {
    /* the cluster is going anyway */
  }
  cluster?.destroy();
}, 60_000);

interface Outcome {
  status: number;
  ms: number;
  type: string | null;
  retryAfter: string | null;
  phase: string;
}

describe.skipIf(!ENABLED)(`PostgreSQL outage${ENABLED ? '' : ` (skipped: ${REASON})`}`, () => {
  it('answers 503 problem+json fast while the database is down, reports not ready, and recovers by itself without losing a live change', async () => {
    const s = server!;
    const origError = console.error;
    console.error = (...args: unknown[]) => logged.push(args.map(String).join(' '));
    const feeds: Feed[] = [];
    try {
      const storeId = await newStore(s);
      for (let i = 0; i < 20; i++) expect((await call(s, `/v1/stores/${storeId}/keys/pre${i}`, json(i, { method: 'PUT' }))).status).toBe(200);
      const feed = await openFeed(s, storeId, '?since=0');
      feeds.push(feed);
      await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
      // A session left half-way: its next batch is asked for during the outage.
      const hs = await call(s, `/v1/stores/${storeId}/sync`, json({ have: {}, batchSize: 5 }));
      expect(hs.status).toBe(201);

      // Background traffic through the whole test: writes and handshakes, every answer recorded.
      let phase = 'before';
      const outcomes: Outcome[] = [];
      const acked: Array<{ key: string; rev: number }> = [];
      let running = true;
      const timed = async (path: string, init?: RequestInit) => {
        const t = performance.now();
        // The phase a request started in: one sent after readiness must succeed, whenever it ends.
        const startedIn = phase;
        const watch = setTimeout(() => console.log(`still waiting after 3 s (${phase}): ${init?.method ?? 'GET'} ${path}`), 3000);
        const res = await call(s, path, { ...init, signal: AbortSignal.timeout(10_000) }).finally(() => clearTimeout(watch));
        outcomes.push({
          status: res.status,
          ms: performance.now() - t,
          type: res.res.headers.get('content-type'),
          retryAfter: res.res.headers.get('retry-after'),
          phase: startedIn,
        });
        return res;
      };
      const traffic = (async () => {
        for (let i = 0; running; i++) {
          const key = `bg${i}`;
          const w = await timed(`/v1/stores/${storeId}/keys/${key}`, json({ i }, { method: 'PUT' }));
          if (w.status === 200) acked.push({ key, rev: w.body.rev });
          if (i % 5 === 0) await timed(`/v1/stores/${storeId}/sync`, json({ since: 0, batchSize: 50 }));
          await new Promise((r) => setTimeout(r, 15));
        }
      })();
      await new Promise((r) => setTimeout(r, 300));

      // Down.
      phase = 'down';
      await cluster!.stop('fast');
      const downAt = performance.now();
      const probes = {
        put: await timed(`/v1/stores/${storeId}/keys/during`, json(1, { method: 'PUT' })),
        get: await timed(`/v1/stores/${storeId}/keys/pre1`),
        list: await timed(`/v1/stores/${storeId}/keys`),
        handshake: await timed(`/v1/stores/${storeId}/sync`, json({ have: {} })),
        batch: await timed(`/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/0`),
        store: await timed(`/v1/stores/${storeId}`),
        feed: await timed(`/v1/stores/${storeId}/events`, { headers: { accept: 'text/event-stream' } }),
      };
      for (const [name, res] of Object.entries(probes)) {
        expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(503);
        expect(res.res.headers.get('content-type'), name).toMatch(/^application\/problem\+json/);
        expect(res.body.type, name).toBe('https://keysync.dev/problems/unavailable');
        expect(Number(res.res.headers.get('retry-after')), name).toBeGreaterThanOrEqual(1);
      }
      expect((await call(s, '/readyz')).status).toBe(503);
      expect((await call(s, '/healthz')).status).toBe(200);
      // Stay down a few seconds in all.
      await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (performance.now() - downAt))));

      // Up again: no restart of keysync, no intervention.
      phase = 'recovering';
      await cluster!.start();
      const upAt = performance.now();
      let ready = false;
      while (!ready && performance.now() - upAt < 15_000) {
        ready = (await call(s, '/readyz')).status === 200;
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(true);
      const recoveredMs = performance.now() - upAt;
      phase = 'after';
      // A few requests sent after readiness (a loaded machine may take a while to answer the first).
      const afterUntil = performance.now() + 10_000;
      while (outcomes.filter((o) => o.phase === 'after').length < 3 && performance.now() < afterUntil) await new Promise((r) => setTimeout(r, 50));
      running = false;
      await traffic;

      // Nothing but 2xx and 503 problem+json, and no answer slower than the driver's connect timeout.
      const statuses = [...new Set(outcomes.map((o) => o.status))].sort();
      expect(
        statuses.every((st) => st === 200 || st === 201 || st === 503),
        `statuses ${statuses}`,
      ).toBe(true);
      for (const o of outcomes.filter((o) => o.status === 503)) {
        expect(o.type).toMatch(/^application\/problem\+json/);
        expect(o.retryAfter).not.toBeNull();
      }
      const slowest = Math.max(...outcomes.map((o) => o.ms));
      expect(slowest).toBeLessThan(6000);
      const inPhase = (p: string, ok: boolean) => outcomes.filter((o) => o.phase === p && o.status < 300 === ok).length;
      expect(inPhase('down', false)).toBeGreaterThan(0);
      expect(inPhase('after', true)).toBeGreaterThan(0);
      expect(outcomes.filter((o) => o.phase === 'after').every((o) => o.status < 300)).toBe(true);

      // The live subscriber: every acknowledged write arrives, in rev order. If the outage cut
      // the feed, reconnect with Last-Event-ID as a client does.
      const last = await call(s, `/v1/stores/${storeId}/keys/final`, json(1, { method: 'PUT' }));
      expect(last.status).toBe(200);
      let current = feed;
      const received = new Map<string, number>();
      const collect = (f: Feed) => {
        for (const e of f.events) if (e.event === 'put' || e.event === 'delete') received.set(e.data.key, e.data.rev);
      };
      let reconnects = 0;
      for (;;) {
        try {
          await current.waitFor(({ events: evs }) => evs.some((e) => e.data?.key === 'final'), 10_000);
          collect(current);
          break;
        } catch (err) {
          if (!current.isClosed() || reconnects > 3) throw err;
          collect(current);
          reconnects++;
          current = await openFeed(s, storeId, '', { headers: { 'last-event-id': current.lastId ?? '0' } });
          feeds.push(current);
        }
      }
      const ids = feeds.flatMap((f) => f.events.filter((e) => e.id !== undefined).map((e) => Number(e.id)));
      for (const f of feeds) {
        const own = f.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
        for (let i = 1; i < own.length; i++) expect(own[i]!).toBeGreaterThan(own[i - 1]!);
      }
      const lost = acked.filter((a) => received.get(a.key) !== a.rev);
      expect(lost).toEqual([]);
      expect(ids.length).toBeGreaterThanOrEqual(acked.length);

      // A fresh sync converges after the outage, and the half-way session still serves or says 410.
      const again = await call(s, `/v1/stores/${storeId}/sync`, json({ have: {} }));
      expect(again.status).toBe(201);
      expect([200, 410]).toContain((await call(s, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/0`)).status);

      console.log(
        `outage: ${outcomes.length} requests (${outcomes.filter((o) => o.status === 503).length} x 503), slowest ${Math.round(slowest)} ms, ` +
          `ready ${Math.round(recoveredMs)} ms after restart, ${acked.length} acked writes all delivered live, feed reconnects ${reconnects}`,
      );
      expect(logged.filter((l) => l.includes('"unhandled"'))).toEqual([]);
    } finally {
      console.error = origError;
      for (const f of feeds) f.close();
    }
  }, 60_000);
});
