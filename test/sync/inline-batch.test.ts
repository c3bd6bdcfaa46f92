/**
 * `inline: true` (docs/API.md, "Inline batch"): a session of one batch comes
 * inside its handshake, done; anything larger is a session as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { bulk, call, del, json, keyPath, newStore } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { ack, drain, expectProblem, fetchBatch, handshake, sessionStatus, startSync, type BatchEntry } from '../support/sync.js';

let db: TestDatabase;
let server: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  // One open session per store: an inline session must not hold it.
  server = await startServer(db, { limits: { maxSessionsPerStore: 1 } });
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

/** A store with keys k0..k{n-1} (revs 1..n). */
async function storeWith(n: number, options?: unknown): Promise<string> {
  const storeId = await newStore(server, options);
  await bulk(
    server,
    storeId,
    Array.from({ length: n }, (_, i) => ({ op: 'put', key: `k${i}`, value: { i } })),
  );
  return storeId;
}

/** The handshake's raw text, and its `batch` member as the text a fetch of batch 0 would answer. */
async function inlineHandshake(storeId: string, body: Record<string, unknown>): Promise<{ text: string; batchText?: string; hs: any }> {
  const res = await server.fetch(`/v1/stores/${storeId}/sync`, json({ ...body, inline: true }));
  const text = await res.text();
  expect(res.status, text).toBe(201);
  const at = text.indexOf(',"batch":');
  return { text, hs: JSON.parse(text), ...(at >= 0 && { batchText: text.slice(at + ',"batch":'.length, -1) }) };
}

describe('an inline batch', () => {
  it('carries a `since` reconnect of one batch as its last member; the session is done, nothing to fetch or acknowledge', async () => {
    const storeId = await storeWith(10);
    await bulk(server, storeId, [
      { op: 'put', key: 'k3', value: { i: 3, v: 2 } },
      { op: 'put', key: 'k7', value: { i: 7, v: 2 } },
      { op: 'delete', key: 'k1' },
    ]);
    const { hs, batchText } = await inlineHandshake(storeId, { since: 10, batchSize: 100 });
    expect(hs).toMatchObject({ stale: ['k3', 'k7'], removed: ['k1'], headRev: 13, batches: 1 });
    expect(hs.batch).toEqual({
      cursor: 0,
      entries: [
        { key: 'k3', rev: 11, ts: expect.any(String), kind: 'json', value: { i: 3, v: 2 } },
        { key: 'k7', rev: 12, ts: expect.any(String), kind: 'json', value: { i: 7, v: 2 } },
      ],
      next: null,
    });
    // Laid out as a fetched batch: a line per entry, so a client can cut it off and read it the same way.
    expect(batchText!.split('\n')).toEqual([
      '{"cursor":0,"entries":[',
      expect.stringMatching(/^\{"key":"k3",.*\},$/),
      expect.stringMatching(/^\{"key":"k7",/),
      '],"next":null}',
    ]);

    const status = await sessionStatus(server, storeId, hs.sessionId);
    expect(status.body).toMatchObject({ batches: 1, total: 2, delivered: 0, acked: 0, remaining: 0, done: true });
    // Released, as after the last ack; an ack again is answered (idempotent).
    expectProblem(await fetchBatch(server, storeId, hs.sessionId, 0), 410, 'session-expired');
    expect((await ack(server, storeId, hs.sessionId, 0)).body).toEqual({ acked: 0, next: null, remaining: 0, done: true });
  });

  it('is the batch a fetch would have answered, byte for byte, for a fresh replica of a store with options', async () => {
    const storeId = await storeWith(6, { filter: { prefixes: ['k'], excludePrefixes: ['k2'] } });
    const plain = await startSync(server, storeId, { have: {}, listStale: false });
    const fetched = await server.fetch(`/v1/stores/${storeId}/sync/${plain.sessionId}/batches/0`);
    const fetchedText = await fetched.text();
    await ack(server, storeId, plain.sessionId, 0);

    const { hs, batchText } = await inlineHandshake(storeId, { have: {}, listStale: false });
    expect(hs.stale).toBeUndefined();
    expect(batchText).toBe(fetchedText);
    expect(hs.batch.entries.map((e: BatchEntry) => e.key)).toEqual(['k0', 'k1', 'k3', 'k4', 'k5']);
  });

  it('keeps values exactly as written: big integers, long decimals, key order', async () => {
    const storeId = await newStore(server);
    const text = '{"z":12345678901234567890123,"a":1.10000000000000000001,"n":-0.0}';
    const res = await server.fetch(keyPath(storeId, 'exact'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: text });
    expect(res.status).toBe(200);
    const { batchText } = await inlineHandshake(storeId, { have: {} });
    expect(batchText).toContain(`"value":${text}}`);
  });

  it('is left out when the session has more than one batch, or none', async () => {
    const storeId = await storeWith(5);
    const { hs, text } = await inlineHandshake(storeId, { have: {}, batchSize: 2 });
    expect(text).not.toContain('"batch"');
    expect(hs.batches).toBe(3);
    const entries = await drain(server, storeId, hs);
    expect(entries.map((e) => e.key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);

    const upToDate = await inlineHandshake(storeId, { since: 5 });
    expect(upToDate.text).not.toContain('"batch"');
    expect(upToDate.hs).toMatchObject({ batches: 0, stale: [], removed: [] });
  });

  it('holds no session open: it is answered while another session holds the store quota, which a plain handshake is not', async () => {
    const storeId = await storeWith(4);
    const open = await startSync(server, storeId, { have: {}, batchSize: 1 });
    expect(open.batches).toBe(4);
    await del(server, storeId, 'k0');
    await call(server, keyPath(storeId, 'k1'), json({ v: 2 }, { method: 'PUT' }));

    const { hs } = await inlineHandshake(storeId, { since: 4 });
    expect(hs).toMatchObject({ removed: ['k0'], stale: ['k1'], batches: 1 });
    expect(hs.batch.entries).toEqual([{ key: 'k1', rev: 6, ts: expect.any(String), kind: 'json', value: { v: 2 } }]);
    expectProblem(await handshake(server, storeId, { since: 4 }), 429, 'too-many-sessions');
  });

  it('is refused when not a boolean', async () => {
    const storeId = await storeWith(1);
    expectProblem(await handshake(server, storeId, { since: 0, inline: 'yes' }), 400, 'validation');
  });
});
