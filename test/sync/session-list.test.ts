/** GET /v1/stores/{id}/sessions: the open sessions of a store with their progress, for the console. */
import { describe, expect, it } from 'vitest';
import { call, json, newStore, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();

describe('listing open sync sessions', () => {
  it('lists sessions in progress with acked of batches, and drops complete and cancelled ones', async () => {
    const storeId = await newStore(env.server);
    for (const k of ['a', 'b', 'c']) await put(env.server, storeId, k, k);
    const base = `/v1/stores/${storeId}`;
    const hs = async () => (await call(env.server, `${base}/sync`, json({ have: {}, batchSize: 1 }))).body.sessionId as string;
    const one = await hs();
    const two = await hs();
    await call(env.server, `${base}/sync/${one}/batches/0`);
    await call(env.server, `${base}/sync/${one}/ack`, json({ cursor: 0 }));

    const listed = await call(env.server, `${base}/sessions`);
    expect(listed.status).toBe(200);
    const byId = new Map(listed.body.items.map((s: any) => [s.sessionId, s]));
    expect(byId.get(one)).toMatchObject({ storeId, batches: 3, acked: 0, delivered: 0, total: 3, remaining: 2, done: false });
    expect(byId.get(two)).toMatchObject({ batches: 3, acked: -1, done: false });

    for (const cursor of [1, 2]) {
      await call(env.server, `${base}/sync/${one}/batches/${cursor}`);
      await call(env.server, `${base}/sync/${one}/ack`, json({ cursor }));
    }
    await call(env.server, `${base}/sync/${two}`, { method: 'DELETE' });
    expect((await call(env.server, `${base}/sessions`)).body.items).toEqual([]);
    expect((await call(env.server, `/v1/stores/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/sessions`)).status).toBe(404);
  });
});
