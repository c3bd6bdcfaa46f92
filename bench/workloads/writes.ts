/**
 * Workload 4: single-key PUT throughput with 32 concurrent connections, and
 * bulk `writes` of 100 ops; the floor is the same transaction (store row
 * bump, upsert, notify) sent to the database directly at the same concurrency.
 */
import { randomUUID } from 'node:crypto';
import { fmt, type BenchContext } from '../lib/context.js';
import { valueOf } from '../lib/data.js';
import { createStore } from '../lib/http.js';
import { measured } from '../lib/proc.js';
import { summarize } from '../lib/stats.js';

const KEYS = 10_000;
const VALUES = Array.from({ length: 256 }, (_, i) => JSON.stringify(valueOf(i)));

/** Runs `op` in `workers` loops for `seconds`; ops/s (each op counts `weight`) and latency. */
async function closedLoop(workers: number, seconds: number, weight: number, op: (i: number) => Promise<void>) {
  const until = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let i = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          await op(i++);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { opsPerS: (latencies.length * weight) / elapsed, errors, ...summarize(latencies) };
}

const rowOf = (i: number) => ({ key: `w/${(i * 7919) % KEYS}`, json: VALUES[i % VALUES.length]! });

export async function writes(ctx: BenchContext, seconds: number): Promise<void> {
  const server = await ctx.server();
  try {
    const storeId = await createStore(server.url, 'writes');
    const put = (i: number) => {
      const { key, json } = rowOf(i);
      return fetch(`${server.url}/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: json,
      }).then(async (res) => {
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`PUT ${res.status}`);
      });
    };
    const bulk = (i: number) => {
      const ops = Array.from({ length: 100 }, (_, j) => {
        const { key, json } = rowOf(i * 100 + j);
        return `{"op":"put","key":${JSON.stringify(key)},"value":${json}}`;
      });
      return fetch(`${server.url}/v1/stores/${storeId}/writes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"ops":[${ops.join(',')}]}`,
      }).then(async (res) => {
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`writes ${res.status}`);
      });
    };
    const floorStore = randomUUID();
    await ctx.floor.addStore(floorStore);
    const floorPut = (i: number) => ctx.floor.write(floorStore, [rowOf(i)]);
    const floorBulk = (i: number) =>
      ctx.floor.write(
        floorStore,
        Array.from({ length: 100 }, (_, j) => rowOf(i * 100 + j)),
      );

    const floorName = ctx.backend.kind === 'postgres' ? 'postgres.js' : 'in-process PGlite';
    for (const [name, op, floorOp, workers, weight] of [
      ['PUT, 32 connections', put, floorPut, 32, 1],
      ['bulk 100 ops, 4 connections', bulk, floorBulk, 4, 100],
    ] as const) {
      await closedLoop(workers, 1, weight, op); // warm-up
      const { value: r, cpuS } = await measured(server.pid, () => closedLoop(workers, seconds, weight, op));
      const f = await closedLoop(workers, seconds, weight, floorOp);
      const target =
        weight === 1 ? { goal: '≥ 0.5x direct floor', ok: r.opsPerS >= 0.5 * f.opsPerS } : { goal: '≥ 0.9x direct floor', ok: r.opsPerS >= 0.9 * f.opsPerS };
      ctx.emit({
        workload: 'writes',
        case: name,
        result: `${fmt.n(r.opsPerS)} ops/s, p50 ${fmt.ms(r.p50)}, p99 ${fmt.ms(r.p99)}; server ${fmt.n((cpuS / seconds) * 100)}% CPU; errors ${r.errors}`,
        versus: `${fmt.x(r.opsPerS / f.opsPerS)} of ${floorName} direct (${fmt.n(f.opsPerS)} ops/s)`,
        target,
        metrics: {
          workers,
          opsPerS: r.opsPerS,
          p50: r.p50,
          p99: r.p99,
          errors: r.errors,
          serverCpuS: cpuS,
          floorOpsPerS: f.opsPerS,
          ratio: r.opsPerS / f.opsPerS,
        },
      });
    }
  } finally {
    await server.stop();
  }
}
