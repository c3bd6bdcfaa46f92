import { describe, expect, it } from 'vitest';
import { MIN_GROWTH, plannedRows, StoreStatistics } from '../../src/db/store-statistics.js';
import { applyWrites } from '../../src/store/writes.js';
import { bulk, call, json, newStore } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { handshake } from '../support/sync.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An ANALYZE stand-in that counts its runs and finishes when told to, and an
 * `inspect` that finds each store with the head rev it was first written at
 * and the planner's rows as given (by default, what the head rev says).
 */
function countingAnalyze(plannedRows?: (headRev: number) => number) {
  const runs: Array<() => void> = [];
  const heads = new Map<string, number>();
  return {
    runs,
    heads,
    analyze: () => new Promise<void>((resolve) => runs.push(resolve)),
    inspect: async (storeId: string) => {
      const headRev = heads.get(storeId) ?? 0;
      return { headRev, plannedRows: plannedRows ? plannedRows(headRev) : headRev };
    },
    finishAll: () => {
      for (const done of runs.splice(0)) done();
    },
  };
}

/** A first write of each store, measured (first sight) before the test goes on. */
async function firstWrites(stats: StoreStatistics, a: ReturnType<typeof countingAnalyze>, writes: Record<string, number>) {
  for (const [storeId, headRev] of Object.entries(writes)) {
    a.heads.set(storeId, headRev);
    stats.committed(storeId, headRev);
  }
  await sleep(0);
}

/** Store `s`, first written empty, then grown by MIN_GROWTH: one ANALYZE, run and finished. */
async function analyzedOnce(minIntervalMs: number) {
  const a = countingAnalyze();
  const stats = new StoreStatistics({ analyze: a.analyze, inspect: a.inspect, minIntervalMs });
  await firstWrites(stats, a, { s: 0 });
  stats.committed('s', MIN_GROWTH);
  expect(a.runs).toHaveLength(1);
  a.finishAll();
  await sleep(0);
  return { a, stats };
}

describe('when a store is analyzed', () => {
  it('once it has grown to twice its rows at the last ANALYZE plus MIN_GROWTH, counting from when it was first seen', async () => {
    const a = countingAnalyze();
    const stats = new StoreStatistics({ analyze: a.analyze, inspect: a.inspect, minIntervalMs: 0 });
    await firstWrites(stats, a, { s: 1000 });
    stats.committed('s', 1000 * 2 + MIN_GROWTH - 1);
    expect(a.runs).toHaveLength(0);
    stats.committed('s', 1000 * 2 + MIN_GROWTH);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await sleep(0);
    // The next run counts from the head rev the last one started at.
    stats.committed('s', 2 * 12_000 + MIN_GROWTH - 1);
    expect(a.runs).toHaveLength(0);
    stats.committed('s', 2 * 12_000 + MIN_GROWTH);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await stats.close();
  });

  it('writes start one at most every minIntervalMs, and a due store is analyzed once the interval is over', async () => {
    const { a, stats } = await analyzedOnce(200);
    stats.committed('s', 10 * MIN_GROWTH);
    expect(a.runs).toHaveLength(0);
    expect(stats.due('s')).toBe(true);
    await sleep(300);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await sleep(0);
    expect(stats.due('s')).toBe(false);
    await stats.close();
  });

  it('a handshake of a store grown eightfold starts one at once whatever the interval, and waits for it', async () => {
    const { a, stats } = await analyzedOnce(60_000);
    // Grown, but not eightfold: the handshake does not wait.
    stats.committed('s', 8 * MIN_GROWTH + MIN_GROWTH - 1);
    await stats.beforeSync('s');
    expect(a.runs).toHaveLength(0);
    stats.committed('s', 8 * MIN_GROWTH + MIN_GROWTH);
    let synced = false;
    const sync = stats.beforeSync('s').then(() => (synced = true));
    expect(a.runs).toHaveLength(1);
    await sleep(10);
    expect(synced).toBe(false);
    a.finishAll();
    await sync;
    // A store that has not grown, and one never written here, wait for nothing.
    await stats.beforeSync('s');
    await stats.beforeSync('other');
    expect(a.runs).toHaveLength(0);
    await stats.close();
  });

  it('a handshake during a run that started before the store grew waits for that run, then starts another', async () => {
    const a = countingAnalyze();
    const stats = new StoreStatistics({ analyze: a.analyze, inspect: a.inspect, minIntervalMs: 0 });
    await firstWrites(stats, a, { s: 0, t: 0 });
    stats.committed('s', MIN_GROWTH);
    expect(a.runs).toHaveLength(1);
    // `t` grows while that run is in progress.
    stats.committed('t', MIN_GROWTH);
    const sync = stats.beforeSync('t');
    a.finishAll();
    await sleep(0);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await sync;
    expect(stats.due('t')).toBe(false);
    await stats.close();
  });

  it('a failed ANALYZE is reported, and the next growth tries again', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const stats = new StoreStatistics({
      analyze: async () => {
        if (fail) throw new Error('lock timeout');
      },
      inspect: async () => ({ headRev: 0, plannedRows: 0 }),
      minIntervalMs: 0,
      onError: (err) => errors.push(err),
    });
    stats.committed('s', 0);
    await sleep(0);
    await stats.beforeSync('s');
    stats.committed('s', MIN_GROWTH);
    await stats.beforeSync('s');
    expect(errors).toHaveLength(1);
    fail = false;
    stats.committed('s', 3 * MIN_GROWTH);
    await stats.beforeSync('s');
    expect(errors).toHaveLength(1);
    await stats.close();
  });
});

describe('a store first seen by this process', () => {
  it('is not kept when there is no such store; a store written where writes start none is still analyzed by its handshake', async () => {
    const a = countingAnalyze(() => 1);
    const stats = new StoreStatistics({
      analyze: a.analyze,
      inspect: async (storeId) => (storeId === 'gone' ? undefined : a.inspect(storeId)),
      onWrites: false,
      minIntervalMs: 0,
    });
    await stats.beforeSync('gone');
    stats.committed('gone', 5 * MIN_GROWTH);
    await sleep(0);
    expect(stats.due('gone')).toBe(false);
    await firstWrites(stats, a, { s: 0 });
    stats.committed('s', 9 * MIN_GROWTH);
    await sleep(0);
    expect(stats.due('s')).toBe(true);
    expect(a.runs).toHaveLength(0);
    const sync = stats.beforeSync('s');
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await sync;
    expect(stats.due('s')).toBe(false);
    expect(a.runs).toHaveLength(0);
    await stats.close();
  });

  it('is analyzed at its first handshake when the planner expects it far smaller than its head rev', async () => {
    const a = countingAnalyze(() => 1);
    a.heads.set('loaded', 5 * MIN_GROWTH);
    a.heads.set('small', 100);
    const stats = new StoreStatistics({ analyze: a.analyze, inspect: a.inspect });
    const sync = stats.beforeSync('loaded');
    await sleep(0);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await sync;
    expect(stats.due('loaded')).toBe(false);
    // Close to what the planner expects: nothing to do.
    await stats.beforeSync('small');
    expect(a.runs).toHaveLength(0);
    await stats.close();
  });

  it('written here, is measured first; unmeasurable (the read failed), it counts from the head rev of the write', async () => {
    const errors: unknown[] = [];
    const a = countingAnalyze(() => 1);
    a.heads.set('loaded', 5 * MIN_GROWTH);
    const stats = new StoreStatistics({ analyze: a.analyze, inspect: a.inspect, minIntervalMs: 0 });
    stats.committed('loaded', 5 * MIN_GROWTH + 1);
    await sleep(0);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    const failing = new StoreStatistics({
      analyze: a.analyze,
      inspect: () => Promise.reject(new Error('no connection')),
      minIntervalMs: 0,
      onError: (err) => errors.push(err),
    });
    failing.committed('s', 5 * MIN_GROWTH);
    await sleep(0);
    expect(errors).toHaveLength(1);
    expect(a.runs).toHaveLength(0);
    failing.committed('s', 11 * MIN_GROWTH);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await stats.close();
    await failing.close();
  });
});

describe('a store loaded after the table was last analyzed', () => {
  const env = useTestServer();

  /** The planner's row estimate for the store's entries. */
  const estimate = (storeId: string) => plannedRows(env.db.database, storeId);

  it('is planned from its rows, an eighth of them at least, when it syncs (without, the planner expected none, and read every entry for each batch)', async () => {
    const small = await newStore(env.server);
    await bulk(
      env.server,
      small,
      Array.from({ length: 200 }, (_, i) => ({ op: 'put', key: `k/${i}`, value: i })),
    );
    await env.db.database.rows('analyze entries');
    const big = await newStore(env.server);
    expect(await estimate(big)).toBeLessThan(100);
    const n = 5 * MIN_GROWTH;
    for (let from = 0; from < n; from += 1000) {
      await bulk(
        env.server,
        big,
        Array.from({ length: 1000 }, (_, i) => ({ op: 'put', key: `doc/${String(from + i).padStart(6, '0')}`, value: from + i })),
      );
    }
    // Analyzed as it grew (the last time at a fifth of it or more), or by the handshake.
    const res = await handshake(env.server, big, { have: {}, listStale: false });
    expect(res.status).toBe(201);
    expect(await estimate(big)).toBeGreaterThan(n / 8);
  });

  /** A store of `n` keys written by another process (here, past the server) after the table's last ANALYZE. */
  async function loadedElsewhere(n: number): Promise<string> {
    await env.db.database.rows('analyze entries');
    const other = await newStore(env.server);
    for (let from = 0; from < n; from += 1000) {
      const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'put' as const, key: `doc/${String(from + i).padStart(6, '0')}`, json: String(from + i) }));
      await applyWrites(env.db.database.db, other, ops);
    }
    expect(await estimate(other)).toBeLessThan(100);
    return other;
  }

  it('by another process (here, written past the server) is planned from its rows at its first handshake', async () => {
    const n = 3 * MIN_GROWTH;
    const other = await loadedElsewhere(n);
    const res = await handshake(env.server, other, { have: {}, listStale: false });
    expect(res.status).toBe(201);
    expect(await estimate(other)).toBeGreaterThan(n / 2);
  });

  it('is planned from its rows at a digest request too, the first step of a digest handshake', async () => {
    const n = 3 * MIN_GROWTH;
    const other = await loadedElsewhere(n);
    const res = await call(env.server, `/v1/stores/${other}/sync/digests`, json({ buckets: 1, digests: Buffer.alloc(8).toString('base64') }));
    expect(res.status).toBe(200);
    expect(await estimate(other)).toBeGreaterThan(n / 2);
  });
});
