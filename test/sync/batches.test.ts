import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { backend, createTestDatabase, type TestDatabase } from '../support/db.js';
import { bulk, del, newStore, put } from '../support/http.js';
import { restartSettled } from '../support/restart.js';
import { startServer, type TestServer } from '../support/server.js';
import { ack, cancel, drain, expectProblem, fetchBatch, type HandshakeBody, handshake, sessionStatus, sleep, startSync } from '../support/sync.js';

let db: TestDatabase;
let server: TestServer;
const extra: TestServer[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
  // The flow control below is checked step by step with a window of 1 (the default is larger).
  server = await startServer(db, { limits: { batchWindow: 1 } });
});
afterAll(async () => {
  for (const s of extra) await s.close();
  await server?.close();
  await db?.drop();
});

/** A store with `n` keys k0..k{n-1} written in that order (revs 1..n). */
async function storeWith(target: TestServer, n: number): Promise<string> {
  const storeId = await newStore(target);
  await bulk(
    target,
    storeId,
    Array.from({ length: n }, (_, i) => ({ op: 'put', key: `k${i}`, value: { i } })),
  );
  return storeId;
}

describe('batches and acknowledgements', () => {
  it('splits the stale keys into batches and enforces the window of 1', async () => {
    const storeId = await storeWith(server, 7);
    const hs = await startSync(server, storeId, { have: {}, batchSize: 3 });
    expect(hs).toMatchObject({ batchSize: 3, batches: 3, window: 1 });
    expect(hs.stale).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']);

    // Nothing fetched yet: only cursor 0 may be fetched, nothing may be acked.
    expectProblem(await fetchBatch(server, storeId, hs.sessionId, 1), 409, 'ack-required');
    expectProblem(await ack(server, storeId, hs.sessionId, 0), 409, 'not-delivered');

    const b0 = await fetchBatch(server, storeId, hs.sessionId, 0);
    expect(b0.status).toBe(200);
    expect(b0.body.cursor).toBe(0);
    expect(b0.body.next).toBe(1);
    expect(b0.body.entries.map((e) => e.key)).toEqual(['k0', 'k1', 'k2']);
    expect(b0.body.entries[1]).toMatchObject({ key: 'k1', rev: 2, value: { i: 1 } });
    expect(b0.body.entries[1]!.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    expectProblem(await fetchBatch(server, storeId, hs.sessionId, 1), 409, 'ack-required');
    expectProblem(await fetchBatch(server, storeId, hs.sessionId, 2), 409, 'ack-required');
    expectProblem(await ack(server, storeId, hs.sessionId, 1), 409, 'not-delivered');

    // Safe retry: the same cursor gives the same keys.
    const again = await fetchBatch(server, storeId, hs.sessionId, 0);
    expect(again.body).toEqual(b0.body);

    const a0 = await ack(server, storeId, hs.sessionId, 0);
    expect(a0.status).toBe(200);
    expect(a0.body).toEqual({ acked: 0, next: 1, remaining: 4, done: false });
    expect((await ack(server, storeId, hs.sessionId, 0)).body).toEqual(a0.body); // idempotent

    const b1 = await fetchBatch(server, storeId, hs.sessionId, 1);
    expect(b1.body.entries.map((e) => e.key)).toEqual(['k3', 'k4', 'k5']);
    expect(b1.body.next).toBe(2);
    expect((await fetchBatch(server, storeId, hs.sessionId, 1)).body).toEqual(b1.body);
    expectProblem(await fetchBatch(server, storeId, hs.sessionId, 2), 409, 'ack-required');
    expect((await ack(server, storeId, hs.sessionId, 1)).body).toEqual({ acked: 1, next: 2, remaining: 1, done: false });
    // An ack of an earlier cursor changes nothing.
    expect((await ack(server, storeId, hs.sessionId, 0)).body).toEqual({ acked: 1, next: 2, remaining: 1, done: false });

    const b2 = await fetchBatch(server, storeId, hs.sessionId, 2);
    expect(b2.body.entries.map((e) => e.key)).toEqual(['k6']);
    expect(b2.body.next).toBeNull();
    const done = await ack(server, storeId, hs.sessionId, 2);
    expect(done.body).toEqual({ acked: 2, next: null, remaining: 0, done: true });
    expect((await ack(server, storeId, hs.sessionId, 2)).body).toEqual(done.body);
  });

  it('lets a window of 3 run three batches ahead of the acks', async () => {
    const windowed = await startServer(db, { limits: { batchWindow: 3 } });
    extra.push(windowed);
    const storeId = await storeWith(windowed, 12);
    const hs = await startSync(windowed, storeId, { have: {}, batchSize: 2 });
    expect(hs).toMatchObject({ window: 3, batches: 6 });
    for (const cursor of [0, 1, 2]) expect((await fetchBatch(windowed, storeId, hs.sessionId, cursor)).status).toBe(200);
    expectProblem(await fetchBatch(windowed, storeId, hs.sessionId, 3), 409, 'ack-required');
    expect((await ack(windowed, storeId, hs.sessionId, 0)).body).toEqual({ acked: 0, next: 1, remaining: 10, done: false });
    expect((await fetchBatch(windowed, storeId, hs.sessionId, 3)).body.entries.map((e) => e.key)).toEqual(['k6', 'k7']);
    expectProblem(await fetchBatch(windowed, storeId, hs.sessionId, 4), 409, 'ack-required');
    // Acking 2 acknowledges 1 as well.
    expect((await ack(windowed, storeId, hs.sessionId, 2)).body).toEqual({ acked: 2, next: 3, remaining: 6, done: false });
    expect((await fetchBatch(windowed, storeId, hs.sessionId, 5)).status).toBe(200);
    expect((await ack(windowed, storeId, hs.sessionId, 5)).body).toEqual({ acked: 5, next: null, remaining: 0, done: true });
  });

  it('closes a batch early once its values reach KEYSYNC_BATCH_BYTES, and caps the batchSize a client may ask for', async () => {
    const capped = await startServer(db, { limits: { batchBytes: 4096, maxBatchSize: 50 } });
    extra.push(capped);
    const storeId = await newStore(capped);
    const big = 'x'.repeat(3000);
    const bin = Buffer.alloc(2400, 7).toString('base64'); // 3,200 characters of base64 on the wire
    await bulk(capped, storeId, [
      { op: 'put', key: 'a', value: { big } }, // 3 KB: a batch of its own once the next one is added
      { op: 'put', key: 'b', value: 1 },
      { op: 'put', key: 'c', value: { big } },
      { op: 'put', key: 'd', base64: bin, contentType: 'application/octet-stream' },
      { op: 'put', key: 'e', value: { big: big + big } }, // 6 KB: alone, bigger than the budget
      ...Array.from({ length: 120 }, (_, i) => ({ op: 'put', key: `s${String(i).padStart(3, '0')}`, value: i })),
    ]);
    const hs = await startSync(capped, storeId, { have: {}, batchSize: 100_000 });
    expect(hs.batchSize).toBe(50);
    const batches: string[][] = [];
    for (let cursor = 0; cursor < hs.batches; cursor++) {
      const res = await fetchBatch(capped, storeId, hs.sessionId, cursor);
      batches.push(res.body.entries.map((e) => e.key));
      // A batch over the budget holds one key: a value larger than the budget on its own.
      if (res.body.entries.length > 1) expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThanOrEqual(4096);
      await ack(capped, storeId, hs.sessionId, cursor);
    }
    expect(batches.slice(0, 4)).toEqual([['a', 'b'], ['c'], ['d'], ['e']]);
    // Small values: as many keys as fit the budget (each entry counts its value plus ~100 bytes), never over 50.
    const small = batches.slice(4);
    expect(small.map((b) => b.length)).toEqual([40, 40, 39, 1]);
    expect(batches.flat()).toEqual(hs.stale);
  });

  it('carries the current value of a key rewritten after the handshake and a tombstone for one deleted since', async () => {
    const storeId = await storeWith(server, 4);
    const hs = await startSync(server, storeId, { have: {}, batchSize: 2 });
    const rewritten = await put(server, storeId, 'k1', 'new value');
    const deleted = await del(server, storeId, 'k2');
    await put(server, storeId, 'late', 'not part of this session');

    const entries = await drain(server, storeId, hs);
    expect(entries.map((e) => e.key)).toEqual(['k0', 'k1', 'k2', 'k3']);
    expect(entries[1]).toEqual({ key: 'k1', rev: rewritten.rev, ts: rewritten.ts, kind: 'json', value: 'new value' });
    expect(entries[2]).toEqual({ key: 'k2', rev: deleted.rev, ts: deleted.ts, kind: 'tombstone', deleted: true });
    expect(entries[0]).toMatchObject({ key: 'k0', rev: 1, value: { i: 0 } });
  });

  it("delivers keys that JSON escapes, and keys rewritten out of their place on disk, in the stale list's order", async () => {
    const storeId = await newStore(server);
    // Quotes, backslashes, control characters, non-ASCII and astral characters: keys a batch writes escaped or as multi-byte UTF-8.
    const keys = ['plain', 'quote"d', 'back\\slash', 'tab\tand\nline', 'ünïcödé', '🔑 key', '\\"', '"'];
    await bulk(
      server,
      storeId,
      keys.map((key, i) => ({ op: 'put', key, value: { i } })),
    );
    // Rewritten before the handshake: later revs, new rows on disk, so delivery (rev) order is not the order the table holds them in.
    for (const key of [keys[0]!, keys[3]!]) await put(server, storeId, key, { again: key });
    const hs = await startSync(server, storeId, { have: {}, batchSize: 3 });
    const entries = await drain(server, storeId, hs);
    expect(entries.map((e) => e.key)).toEqual(hs.stale);
    expect(new Set(hs.stale)).toEqual(new Set(keys));
    expect(hs.stale.slice(-2)).toEqual([keys[0], keys[3]]);
    for (const e of entries)
      expect(e).toMatchObject({ kind: 'json', value: keys.indexOf(e.key) === 0 || keys.indexOf(e.key) === 3 ? { again: e.key } : { i: keys.indexOf(e.key) } });
  });

  it('leaves the stale list out of the handshake when asked (listStale: false) and delivers the same batches', async () => {
    const storeId = await storeWith(server, 5);
    const before = await startSync(server, storeId, { have: { k0: '2000-01-01T00:00:00.000000Z' }, batchSize: 2 });
    await cancel(server, storeId, before.sessionId);
    for (const body of [
      { have: { k0: '2000-01-01T00:00:00.000000Z' }, batchSize: 2, listStale: false },
      { since: 0, batchSize: 2, listStale: false },
    ]) {
      const res = await handshake(server, storeId, body);
      expect(res.status).toBe(201);
      const hs = res.body as Record<string, unknown>;
      expect(Object.keys(hs)).toEqual(['sessionId', 'removed', 'headRev', 'batchSize', 'batches', 'window', 'expiresAt']);
      expect(hs['batches']).toBe(3);
      const entries = await drain(server, storeId, hs as unknown as HandshakeBody);
      expect(entries.map((e) => e.key)).toEqual(before.stale);
    }
    expectProblem(await handshake(server, storeId, { since: 0, listStale: 'no' }), 400, 'validation');
    expectProblem(await handshake(server, storeId, { have: {}, listStale: 1 }), 400, 'validation');
  });

  it('reports progress and cancels a session, which is then gone (404)', async () => {
    const storeId = await storeWith(server, 5);
    const hs = await startSync(server, storeId, { have: {}, batchSize: 2 });
    const fresh = await sessionStatus(server, storeId, hs.sessionId);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({
      sessionId: hs.sessionId,
      storeId,
      headRev: hs.headRev,
      batchSize: 2,
      window: 1,
      total: 5,
      batches: 3,
      delivered: -1,
      acked: -1,
      remaining: 5,
      done: false,
    });
    await fetchBatch(server, storeId, hs.sessionId, 0);
    await ack(server, storeId, hs.sessionId, 0);
    await fetchBatch(server, storeId, hs.sessionId, 1);
    expect((await sessionStatus(server, storeId, hs.sessionId)).body).toMatchObject({ delivered: 1, acked: 0, remaining: 3, done: false });

    const gone = await cancel(server, storeId, hs.sessionId);
    expect(gone.status).toBe(204);
    expectProblem(await sessionStatus(server, storeId, hs.sessionId), 404, 'not-found');
    expectProblem(await fetchBatch(server, storeId, hs.sessionId, 1), 404, 'not-found');
    expectProblem(await ack(server, storeId, hs.sessionId, 1), 404, 'not-found');
    expectProblem(await cancel(server, storeId, hs.sessionId), 404, 'not-found');
  });

  it('does not serve a session under another store', async () => {
    const storeId = await storeWith(server, 2);
    const other = await storeWith(server, 2);
    const hs = await startSync(server, storeId, { have: {} });
    expectProblem(await fetchBatch(server, other, hs.sessionId, 0), 404, 'not-found');
    expectProblem(await sessionStatus(server, other, hs.sessionId), 404, 'not-found');
  });

  it('answers a cursor at the top of the integer range with a problem, not a 500 (cursor + 1 in SQL)', async () => {
    const storeId = await storeWith(server, 2);
    const hs = await startSync(server, storeId, { have: {} });
    const res = await fetchBatch(server, storeId, hs.sessionId, 2147483647);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe('session expiry', () => {
  it('answers 410 session-expired on fetch, ack and status after an idle timeout', async () => {
    const quick = await startServer(db, { limits: { batchTimeoutMs: 300 } });
    extra.push(quick);
    const storeId = await storeWith(quick, 6);
    const idle = await startSync(quick, storeId, { have: {}, batchSize: 2 });
    expect(Date.parse(idle.expiresAt) - Date.now()).toBeLessThanOrEqual(300);
    await sleep(450);
    expectProblem(await fetchBatch(quick, storeId, idle.sessionId, 0), 410, 'session-expired');
    expectProblem(await ack(quick, storeId, idle.sessionId, 0), 410, 'session-expired');
    expectProblem(await sessionStatus(quick, storeId, idle.sessionId), 410, 'session-expired');
  });

  it('keeps a session alive while it is fetched and acked, however long it runs', async () => {
    // A wider timeout than above so a loaded test machine cannot turn a short gap into an expiry.
    const slow = await startServer(db, { limits: { batchTimeoutMs: 1500 } });
    extra.push(slow);
    const storeId = await storeWith(slow, 3);
    const busy = await startSync(slow, storeId, { have: {}, batchSize: 1 });
    const started = Date.now();
    for (let cursor = 0; cursor < busy.batches; cursor++) {
      await sleep(450);
      expect((await fetchBatch(slow, storeId, busy.sessionId, cursor)).status).toBe(200);
      await sleep(450);
      expect((await ack(slow, storeId, busy.sessionId, cursor)).status).toBe(200);
    }
    expect(Date.now() - started).toBeGreaterThan(1500); // longer than the timeout in all
    expect((await sessionStatus(slow, storeId, busy.sessionId)).body).toMatchObject({ done: true, remaining: 0 });
  });
});

describe('sessions live in the database', () => {
  it('are served after a server restart', async () => {
    const storeId = await storeWith(server, 6);
    const hs = await startSync(server, storeId, { have: {}, batchSize: 2 });
    const b0 = await fetchBatch(server, storeId, hs.sessionId, 0);
    await restartSettled(server);
    expect((await fetchBatch(server, storeId, hs.sessionId, 0)).body).toEqual(b0.body);
    expect((await ack(server, storeId, hs.sessionId, 0)).body).toEqual({ acked: 0, next: 1, remaining: 4, done: false });
    await restartSettled(server);
    const keys: string[] = [];
    for (const cursor of [1, 2]) {
      keys.push(...(await fetchBatch(server, storeId, hs.sessionId, cursor)).body.entries.map((e) => e.key));
      await ack(server, storeId, hs.sessionId, cursor);
    }
    expect(keys).toEqual(['k2', 'k3', 'k4', 'k5']);
    expect((await sessionStatus(server, storeId, hs.sessionId)).body).toMatchObject({ done: true, remaining: 0 });
  });

  it.runIf(backend === 'postgres')('are served by a second server instance on the same database', async () => {
    // A separate connection pool, as a second process would have.
    const second = await openDatabase({ databaseUrl: db.url!, maxConnections: 4 });
    const other = await startServer({ database: second, drop: () => second.close() });
    try {
      const storeId = await storeWith(server, 6);
      const hs = await startSync(server, storeId, { have: {}, batchSize: 2 });
      const seen: string[] = [];
      for (const [cursor, fetchOn, ackOn] of [
        [0, other, server],
        [1, server, other],
        [2, other, other],
      ] as const) {
        const batch = await fetchOn.fetch(`/v1/stores/${storeId}/sync/${hs.sessionId}/batches/${cursor}`).then((r) => r.json());
        seen.push(...batch.entries.map((e: { key: string }) => e.key));
        expect((await ack(ackOn, storeId, hs.sessionId, cursor)).status).toBe(200);
      }
      expect(seen).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
      expect((await sessionStatus(other, storeId, hs.sessionId)).body).toMatchObject({ done: true });
      expect((await sessionStatus(server, storeId, hs.sessionId)).body).toMatchObject({ done: true });
    } finally {
      await other.close();
      await second.close();
    }
  });
});
