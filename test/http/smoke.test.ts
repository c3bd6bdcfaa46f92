import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, newStore, put } from '../support/http.js';
import { Replica, serverSnapshot } from '../support/replica.js';
import { startServer, type TestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';

let db: TestDatabase;
let server: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer(db);
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

describe('a store end to end', () => {
  it('syncs a fresh replica and follows the live feed', async () => {
    const storeId = await newStore(server);
    for (let i = 0; i < 250; i++) await put(server, storeId, `k${i}`, { i });
    const replica = new Replica();
    const hs = await replica.sync(server, storeId, { batchSize: 100 });
    expect(hs.batches).toBe(3);
    expect(replica.snapshot()).toEqual(await serverSnapshot(server, storeId));

    const feed = await openFeed(server, storeId, `?since=${hs.headRev}`);
    expect(feed.headers.get('content-type')).toMatch(/text\/event-stream/);
    await feed.waitFor((evs) => evs.some((e) => e.event === 'ready'));
    await put(server, storeId, 'live', 'hello');
    await feed.waitFor((evs) => evs.some((e) => e.event === 'put' && e.data.key === 'live'));
    feed.close();
    const status = await call(server, '/healthz');
    expect(status.body).toEqual({ status: 'ok' });
  });
});
