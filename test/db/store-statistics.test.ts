import { describe, expect, it } from 'vitest';
import { MIN_GROWTH, StoreStatistics } from '../../src/db/store-statistics.js';
import { bulk, newStore } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { handshake } from '../support/sync.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An ANALYZE stand-in that counts its runs and finishes when told to. */
function countingAnalyze() {
  const runs: Array<() => void> = [];
  return {
    runs,
    analyze: () => new Promise<void>((resolve) => runs.push(resolve)),
    finishAll: () => {
      for (const done of runs.splice(0)) done();
    },
  };
}

describe('when a store is analyzed', () => {
  it('once it has grown to twice its rows at the last ANALYZE plus MIN_GROWTH, counting from when it was first seen', async () => {
    const a = countingAnalyze();
    const stats = new StoreStatistics({ analyze: a.analyze, minIntervalMs: 0 });
    stats.committed('s', 1000);
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
    stats.close();
  });

  it('writes start one at most every minIntervalMs, and a due store is analyzed once the interval is over', async () => {
    const a = countingAnalyze();
    const stats = new StoreStatistics({ analyze: a.analyze, minIntervalMs: 200 });
    stats.committed('s', 0);
    stats.committed('s', MIN_GROWTH);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await sleep(0);
    stats.committed('s', 10 * MIN_GROWTH);
    expect(a.runs).toHaveLength(0);
    expect(stats.due('s')).toBe(true);
    await sleep(300);
    expect(a.runs).toHaveLength(1);
    a.finishAll();
    await sleep(0);
    expect(stats.due('s')).toBe(false);
    stats.close();
  });

  it('a handshake of a grown store starts one at once whatever the interval, and waits for it', async () => {
    const a = countingAnalyze();
    const stats = new StoreStatistics({ analyze: a.analyze, minIntervalMs: 60_000 });
    stats.committed('s', 0);
    stats.committed('s', MIN_GROWTH);
    a.finishAll();
    await sleep(0);
    stats.committed('s', 5 * MIN_GROWTH);
    expect(a.runs).toHaveLength(0);
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
    stats.close();
  });

  it('a handshake during a run that started before the store grew waits for that run, then starts another', async () => {
    const a = countingAnalyze();
    const stats = new StoreStatistics({ analyze: a.analyze, minIntervalMs: 0 });
    stats.committed('s', 0);
    stats.committed('t', 0);
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
    stats.close();
  });

  it('a failed ANALYZE is reported, and the next growth tries again', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const stats = new StoreStatistics({
      analyze: async () => {
        if (fail) throw new Error('lock timeout');
      },
      minIntervalMs: 0,
      onError: (err) => errors.push(err),
    });
    stats.committed('s', 0);
    await stats.beforeSync('s');
    stats.committed('s', MIN_GROWTH);
    await stats.beforeSync('s');
    expect(errors).toHaveLength(1);
    fail = false;
    stats.committed('s', 3 * MIN_GROWTH);
    await stats.beforeSync('s');
    expect(errors).toHaveLength(1);
    stats.close();
  });
});

describe('a store loaded after the table was last analyzed', () => {
  const env = useTestServer();

  /** The planner's row estimate for the store's entries. */
  const estimate = async (storeId: string) => {
    const rows = await env.db.database.rows<{ 'QUERY PLAN': unknown }>(`explain (format json) select 1 from entries where store_id = $1::uuid`, [storeId]);
    const plan = rows[0]!['QUERY PLAN'];
    const doc = (typeof plan === 'string' ? JSON.parse(plan) : plan) as Array<{ Plan: { 'Plan Rows': number } }>;
    return doc[0]!.Plan['Plan Rows'];
  };

  it('is planned from its rows when it syncs (without, the planner expected none, and read every entry for each batch)', async () => {
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
    // The handshake analyzed the table first: the store's estimate is near its rows.
    const res = await handshake(env.server, big, { have: {}, listStale: false });
    expect(res.status).toBe(201);
    expect(await estimate(big)).toBeGreaterThan(n / 2);
  });
});
