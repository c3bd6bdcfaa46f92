/**
 * The handshake response streams its stale list from the session's chunks
 * (src/sync/stale-list.ts): many chunks come back whole and in order, and a
 * session whose chunks vanish mid-answer gives a broken body, never a list
 * that silently lacks keys.
 */
import { describe, expect, it } from 'vitest';
import { handshake } from '../../src/sync/handshake.js';
import { HaveList } from '../../src/sync/have-list.js';
import { handshakeBody } from '../../src/sync/stale-list.js';
import { OPEN_POLICY } from '../../src/options/index.js';
import { bulk, newStore } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { startSync } from '../support/sync.js';

const env = useTestServer();
const SETTINGS = { batchSize: 100, maxBatchSize: 1000, batchBytes: 4 << 20, window: 1, timeoutMs: 30_000 };

async function storeWith(n: number): Promise<string> {
  const storeId = await newStore(env.server);
  for (let start = 0; start < n; start += 1000) {
    await bulk(
      env.server,
      storeId,
      Array.from({ length: Math.min(1000, n - start) }, (_, i) => ({ op: 'put', key: `k/${String(start + i).padStart(6, '0')}`, value: i })),
    );
  }
  return storeId;
}

describe('the streamed stale list', () => {
  it('carries every stale key in delivery order across many reads of chunks', async () => {
    const n = 7_321;
    const storeId = await storeWith(n);
    // batchSize 3: 2,441 chunks, read back 50 at a time.
    const hs = await startSync(env.server, storeId, { have: new Map(), batchSize: 3 });
    expect(hs.batches).toBe(Math.ceil(n / 3));
    expect(hs.stale).toEqual(Array.from({ length: n }, (_, i) => `k/${String(i).padStart(6, '0')}`));
    expect(Object.keys(hs)).toEqual(['sessionId', 'stale', 'removed', 'headRev', 'batchSize', 'batches', 'window', 'expiresAt']);
  });

  it('reads the chunks back when the handshake did not keep them, with the same text', async () => {
    const storeId = await storeWith(1_234);
    const db = env.server.keysync.database.db;
    // A `have` map that is not empty (an empty one has the database cut the chunks, and nothing is kept).
    const result = await handshake(db, storeId, { have: HaveList.of([['zz', 1]]), batchSize: 7 }, () => OPEN_POLICY, SETTINGS);
    expect(result.chunks).toHaveLength(Math.ceil(1_234 / 7));
    const kept = await new Response(handshakeBody(db, result)).text();
    const readBack = await new Response(handshakeBody(db, { ...result, chunks: undefined })).text();
    expect(readBack).toBe(kept);
    expect(JSON.parse(kept).stale).toHaveLength(1_234);
  });

  it('errors instead of ending short when the chunks go away while it is sent', async () => {
    const storeId = await storeWith(500);
    const db = env.server.keysync.database.db;
    const result = await handshake(db, storeId, { have: HaveList.of([]), batchSize: 1 }, () => OPEN_POLICY, SETTINGS);
    expect(result.batches).toBe(500);
    const reader = handshakeBody(db, { ...result, chunks: undefined }).getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    text += decoder.decode((await reader.read()).value); // the first 50 chunks
    const { sql } = await import('drizzle-orm');
    await db.execute(sql`delete from sync_chunks where session_id = ${result.sessionId}::uuid and cursor >= 100`);
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          text += decoder.decode(value);
        }
      })(),
    ).rejects.toThrow(/chunks went away/);
    expect(text.startsWith(`{"sessionId":"${result.sessionId}","stale":["k/000000",`)).toBe(true);
  });
});
