import { describe, expect, it } from 'vitest';
import { bulk, del, newStore, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { startSync } from '../support/sync.js';

const env = useTestServer();

const N = 20_000;
const CHUNK = 1000; // KEYSYNC_MAX_BULK_OPS default

describe('a handshake with a large have map', () => {
  it('finds nothing stale for a client holding 20,000 up-to-date keys, then exactly what changed', async () => {
    const storeId = await newStore(env.server);
    const have: Record<string, string> = {};
    for (let start = 0; start < N; start += CHUNK) {
      const ops = Array.from({ length: CHUNK }, (_, i) => ({ op: 'put', key: `item/${String(start + i).padStart(5, '0')}`, value: start + i }));
      for (const r of await bulk(env.server, storeId, ops)) have[r.key] = r.ts;
    }
    expect(Object.keys(have)).toHaveLength(N);

    const upToDate = await startSync(env.server, storeId, { have });
    expect(upToDate.stale).toEqual([]);
    expect(upToDate.removed).toEqual([]);
    expect(upToDate.batches).toBe(0);
    expect(upToDate.headRev).toBe(N);

    // A few changes among the 20,000: exactly those come back.
    await put(env.server, storeId, 'item/10000', 'changed');
    await del(env.server, storeId, 'item/00007');
    await put(env.server, storeId, 'item/00003', 'changed');
    await put(env.server, storeId, 'brand-new', 1);
    const changed = await startSync(env.server, storeId, { have: { ...have, 'never/existed': have['item/00001']! } });
    expect(changed.stale).toEqual(['item/10000', 'item/00003', 'brand-new']);
    expect([...changed.removed].sort()).toEqual(['item/00007', 'never/existed']);
    expect(changed.headRev).toBe(N + 4);
  });
});
