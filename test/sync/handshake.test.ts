import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { bulk, del, newStore, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { expectProblem, handshake, startSync } from '../support/sync.js';

// Retention 0: a housekeeping pass purges every tombstone (the harness never runs it on its own).
const env = useTestServer({ limits: { tombstoneRetentionMs: 0 } });

const OLD_TS = '2020-01-01T00:00:00.000000Z';

describe('handshake by have', () => {
  it('gives a fresh client every live key in rev order and nothing removed', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'a', 1);
    await put(env.server, storeId, 'b', 2);
    await put(env.server, storeId, 'c', 3);
    await put(env.server, storeId, 'd', 4);
    await put(env.server, storeId, 'a', 11); // a moves behind d
    const last = await del(env.server, storeId, 'c');

    const hs = await startSync(env.server, storeId, { have: {} });
    expect(hs.stale).toEqual(['b', 'd', 'a']);
    expect(hs.removed).toEqual([]);
    expect(hs.headRev).toBe(last.rev);
    expect(hs.headRev).toBe(6);
    expect(hs.window).toBe(DEFAULT_LIMITS.batchWindow);
    expect(hs.batches).toBe(1);
    expect(hs.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(hs.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('sends exactly the keys the client lacks or holds at another ts', async () => {
    const storeId = await newStore(env.server);
    const w: Record<string, { ts: string }> = {};
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) w[key] = await put(env.server, storeId, key, key);
    const bOld = w['b']!.ts;
    w['b'] = await put(env.server, storeId, 'b', 'b2');
    w['d'] = await put(env.server, storeId, 'd', 'd2');

    const hs = await startSync(env.server, storeId, {
      have: {
        a: w['a']!.ts, // up to date
        b: bOld, // overwritten since
        d: w['d']!.ts, // up to date after its overwrite
        e: OLD_TS, // a ts the server never gave this key
        f: w['a']!.ts, // another key's ts: still stale
        // c missing
      },
    });
    // rev order: c(3) e(5) f(6) b(7)
    expect(hs.stale).toEqual(['c', 'e', 'f', 'b']);
    expect(hs.removed).toEqual([]);
  });

  it('lists held keys that were deleted or never existed as removed, never as stale', async () => {
    const storeId = await newStore(env.server);
    const x = await put(env.server, storeId, 'x', 1);
    const y = await put(env.server, storeId, 'y', 1);
    await del(env.server, storeId, 'x');
    const z1 = await put(env.server, storeId, 'z', 1);
    await del(env.server, storeId, 'z');
    await put(env.server, storeId, 'z', 2); // recreated: stale, not removed

    const hs = await startSync(env.server, storeId, { have: { x: x.ts, y: y.ts, z: z1.ts, ghost: OLD_TS, 'also/ghost': y.ts } });
    expect(hs.stale).toEqual(['z']);
    expect([...hs.removed].sort()).toEqual(['also/ghost', 'ghost', 'x']);
  });

  it('never mentions keys outside the requested prefix', async () => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'users/1', 1);
    const p1 = await put(env.server, storeId, 'posts/1', 1);
    await put(env.server, storeId, 'users/2', 2);
    await put(env.server, storeId, 'usersX', 'not under users/');
    await put(env.server, storeId, 'posts/2', 2);
    await del(env.server, storeId, 'posts/2');
    const u3 = await put(env.server, storeId, 'users/3', 3);
    await del(env.server, storeId, 'users/3');

    const hs = await startSync(env.server, storeId, {
      prefix: 'users/',
      have: { 'posts/1': OLD_TS, 'posts/2': p1.ts, 'posts/ghost': OLD_TS, 'users/3': u3.ts, 'users/ghost': OLD_TS, usersX: OLD_TS },
    });
    expect(hs.stale).toEqual(['users/1', 'users/2']);
    expect([...hs.removed].sort()).toEqual(['users/3', 'users/ghost']);

    const bySince = await startSync(env.server, storeId, { prefix: 'posts/', since: 0 });
    expect(bySince.stale).toEqual(['posts/1']);
    expect(bySince.removed).toEqual(['posts/2']);
  });

  it('delivers by store order rank first, then rev', async () => {
    const storeId = await newStore(env.server, { order: [{ prefix: 'db', rank: 1 }] });
    await put(env.server, storeId, 'db/root', 1);
    await put(env.server, storeId, 'node/1', 1);
    await put(env.server, storeId, 'db/meta', 1);
    await put(env.server, storeId, 'node/2', 1);
    const hs = await startSync(env.server, storeId, { have: {}, batchSize: 2 });
    expect(hs.stale).toEqual(['node/1', 'node/2', 'db/root', 'db/meta']);
    expect(hs.batches).toBe(2);
  });
});

describe('handshake by since', () => {
  it('gives keys changed after the rev, compacted in rev order, and tombstones after it as removed', async () => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, [
      { op: 'put', key: 'old', value: 1 },
      { op: 'put', key: 'gone-before', value: 1 },
      { op: 'put', key: 'gone-after', value: 1 },
      { op: 'put', key: 'twice', value: 1 },
    ]);
    const mark = (await del(env.server, storeId, 'gone-before')).rev;
    await put(env.server, storeId, 'twice', 2);
    await put(env.server, storeId, 'new', 1);
    await del(env.server, storeId, 'gone-after');
    await put(env.server, storeId, 'twice', 3);
    const born = await put(env.server, storeId, 'born-and-died', 1);
    await del(env.server, storeId, 'born-and-died');

    const hs = await startSync(env.server, storeId, { since: mark });
    expect(hs.stale).toEqual(['new', 'twice']);
    expect(hs.removed).toEqual(['gone-after', 'born-and-died']);
    expect(hs.headRev).toBe(born.rev + 1);

    const atHead = await startSync(env.server, storeId, { since: hs.headRev });
    expect(atHead).toMatchObject({ stale: [], removed: [], batches: 0, headRev: hs.headRev });
  });

  it('refuses a since ahead of the head with 409 since-ahead', async () => {
    const storeId = await newStore(env.server);
    const w = await put(env.server, storeId, 'a', 1);
    expectProblem(await handshake(env.server, storeId, { since: w.rev + 1 }), 409, 'since-ahead');
    expectProblem(await handshake(env.server, storeId, { since: 1_000_000 }), 409, 'since-ahead');
    expect((await handshake(env.server, storeId, { since: w.rev })).status).toBe(201);
  });

  it('refuses a since below the purged tombstones with 409 since-purged; have still converges', async () => {
    const storeId = await newStore(env.server);
    const a = await put(env.server, storeId, 'a', 1);
    await put(env.server, storeId, 'b', 1);
    const gone = await del(env.server, storeId, 'a');
    await put(env.server, storeId, 'c', 1);
    const { purged } = await env.server.keysync.housekeeping();
    expect(purged).toBeGreaterThanOrEqual(1);

    expectProblem(await handshake(env.server, storeId, { since: 0 }), 409, 'since-purged');
    expectProblem(await handshake(env.server, storeId, { since: gone.rev - 1 }), 409, 'since-purged');
    const fromPurged = await startSync(env.server, storeId, { since: gone.rev });
    expect(fromPurged.stale).toEqual(['c']);
    // A client that still holds `a` from before the purge is told to drop it.
    const byHave = await startSync(env.server, storeId, { have: { a: a.ts } });
    expect(byHave.stale).toEqual(['b', 'c']);
    expect(byHave.removed).toEqual(['a']);
  });
});
