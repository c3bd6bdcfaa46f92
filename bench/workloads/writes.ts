/**
 * Workload 4: single-key PUT throughput with 32 concurrent connections, and
 * bulk `writes` of 100 ops; the floor is the same transaction (store row
 * bump, upsert, notify) sent to the database directly at the same concurrency,
 * in turns with keysync's (see `compared`).
 */
import { randomUUID } from 'node:crypto';
import { fmt, type BenchContext } from '../lib/context.js';
import { valueOf } from '../lib/data.js';
import { createStore } from '../lib/http.js';
import { measured } from '../lib/proc.js';
import { summarize } from '../lib/stats.js';

const KEYS = 10_000;
const VALUES = Array.from({ length: 256 }, (_, i) => JSON.stringify(valueOf(i)));

/** What a closed loop did: ops done (each counts `weight`), its time, and each op's latency. */
interface LoopRun {
  ops: number;
  seconds: number;
  latencies: number[];
  errors: number;
}

/** Runs `op` in `workers` loops for `seconds`. */
async function closedLoop(workers: number, seconds: number, weight: number, op: (i: number) => Promise<void>): Promise<LoopRun> {
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
  return { ops: latencies.length * weight, seconds: (performance.now() - started) / 1000, latencies, errors };
}

/** Slices per comparison: keysync and its floor take turns, so a slow spell of a shared machine falls on both. */
const SLICES = 6;

/**
 * keysync's `op` and the floor's `floorOp` for `seconds` each, in turns of
 * seconds / SLICES (A B B A A B ...: neither always goes first). Measured one
 * after the other, a ratio swung from 0.58 to 0.93 between runs minutes
 * apart as the machine's speed drifted. The server's CPU is counted over
 * keysync's turns only.
 */
async function compared(
  workers: number,
  seconds: number,
  weight: number,
  op: (i: number) => Promise<void>,
  floorOp: (i: number) => Promise<void>,
  serverPid: number,
) {
  const runs: LoopRun[] = [];
  const floorRuns: LoopRun[] = [];
  let cpuS = 0;
  for (let slice = 0; slice < SLICES; slice++) {
    const turns = slice % 2 === 0 ? (['keysync', 'floor'] as const) : (['floor', 'keysync'] as const);
    for (const turn of turns) {
      if (turn === 'floor') floorRuns.push(await closedLoop(workers, seconds / SLICES, weight, floorOp));
      else {
        const m = await measured(serverPid, () => closedLoop(workers, seconds / SLICES, weight, op));
        runs.push(m.value);
        cpuS += m.cpuS;
      }
    }
  }
  const total = (rs: LoopRun[]) => {
    const latencies = rs.flatMap((r) => r.latencies);
    const secs = rs.reduce((sum, r) => sum + r.seconds, 0);
    return { opsPerS: rs.reduce((sum, r) => sum + r.ops, 0) / secs, seconds: secs, errors: rs.reduce((sum, r) => sum + r.errors, 0), ...summarize(latencies) };
  };
  return { r: total(runs), f: total(floorRuns), cpuS };
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
      await closedLoop(workers, 1, weight, floorOp);
      const { r, f, cpuS } = await compared(workers, seconds, weight, op, floorOp, server.pid);
      const target =
        weight === 1 ? { goal: '≥ 0.5x direct floor', ok: r.opsPerS >= 0.5 * f.opsPerS } : { goal: '≥ 0.9x direct floor', ok: r.opsPerS >= 0.9 * f.opsPerS };
      ctx.emit({
        workload: 'writes',
        case: name,
        result: `${fmt.n(r.opsPerS)} ops/s, p50 ${fmt.ms(r.p50)}, p99 ${fmt.ms(r.p99)}; server ${fmt.n((cpuS / r.seconds) * 100)}% CPU; errors ${r.errors}`,
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
