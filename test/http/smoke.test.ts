import { describe, expect, it } from 'vitest';
import { call, newStore, put } from '../support/http.js';
import { Replica, serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { openFeed } from '../support/sse.js';

const env = useTestServer();

describe('a store end to end', () => {
  it('syncs a fresh replica and follows the live feed', async () => {
    const storeId = await newStore(env.server);
    for (let i = 0; i < 250; i++) await put(env.server, storeId, `k${i}`, { i });
    const replica = new Replica();
    const hs = await replica.sync(env.server, storeId, { batchSize: 100 });
    expect(hs.batches).toBe(3);
    expect(replica.snapshot()).toEqual(await serverSnapshot(env.server, storeId));

    const feed = await openFeed(env.server, storeId, `?since=${hs.headRev}`);
    expect(feed.headers.get('content-type')).toMatch(/text\/event-stream/);
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));
    await put(env.server, storeId, 'live', 'hello');
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'put' && e.data.key === 'live'));
    feed.close();
    const status = await call(env.server, '/healthz');
    expect(status.body).toEqual({ status: 'ok' });
  });
});
