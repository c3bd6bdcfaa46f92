/**
 * `npm run bench -- [--quick|--full] [--backend pglite|postgres|both] [--only a,b] [--subscribers 1000] [--sync 200000] [--profile <dir>]`
 *
 * `--only durable` measures just the durable Node store (FileStore against MemoryStore).
 *
 * `--subscribers` replaces the plan's live fan-out subscriber counts (to rerun one case).
 *
 * `--sync` replaces the plan's initial sync sizes (comma-separated key counts)
 * and runs those alone (not the batchSize 100 and window 1 variants).
 *
 * Runs each workload against a server in its own process, prints a row per
 * result and writes bench/results/latest.{json,md}.
 */
import { parseArgs } from 'node:util';
import { createBackend } from './lib/backend.js';
import { contextFor, type BenchContext } from './lib/context.js';
import { openFloorDb } from './lib/floor-db.js';
import { calibrate } from './lib/calibrate.js';
import { waitQuiet } from './lib/machine-load.js';
import { machine, markdown, printRow, writeReport, type Report, type Row } from './lib/report.js';
import { handshakeHave } from './workloads/handshake.js';
import { idleConnections } from './workloads/idle.js';
import { durableStore } from './workloads/durable.js';
import { footprint } from './workloads/footprint.js';
import { initialSync } from './workloads/initial-sync.js';
import { compressionSync } from './workloads/compression.js';
import { liveFanout } from './workloads/live.js';
import { liveCompression } from './workloads/live-compression.js';
import { writes } from './workloads/writes.js';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

const PLAN = {
  quick: { sync: [20_000], syncVariants: true, subscribers: [1, 100], liveSeconds: 5, writeSeconds: 5, handshakeKeys: 100_000, idle: 500, durable: [100_000] },
  full: {
    sync: [100_000, 1_000_000],
    syncVariants: true,
    subscribers: [1, 100, 1000],
    liveSeconds: 15,
    writeSeconds: 10,
    handshakeKeys: 100_000,
    idle: 5000,
    durable: [100_000, 1_000_000],
  },
};

const WORKLOADS: Record<string, (ctx: BenchContext, plan: (typeof PLAN)['quick']) => Promise<void>> = {
  sync: async (ctx, plan) => {
    for (const n of plan.sync) await initialSync(ctx, n);
    if (!plan.syncVariants) return;
    // The server's default batch (the TS client asks for 20x that): the cost of round trips.
    await initialSync(ctx, plan.sync[0]!, { batchSize: 100 });
    // A server with strict fetch, apply, ack turns (window 1): what the overlap of the default window saves.
    await initialSync(ctx, plan.sync[0]!, { window: 1 });
  },
  // Initial sync per Accept-Encoding and level: bytes per doc and time against identity.
  compression: (ctx, plan) => compressionSync(ctx, plan.sync[0]!, ctx.mode === 'full' ? 3 : 2),
  live: (ctx, plan) => liveFanout(ctx, plan.subscribers, plan.liveSeconds),
  // Whether live SSE frames would gain from compression (flushed per event): bytes and CPU, in process.
  'live-compression': (ctx) => liveCompression(ctx),
  writes: (ctx, plan) => writes(ctx, plan.writeSeconds),
  handshake: (ctx, plan) => handshakeHave(ctx, plan.handshakeKeys),
  idle: (ctx, plan) => idleConnections(ctx, plan.idle),
  // The idle server's RSS with an empty store, as `npm start` runs it (embedded: new folder and reopened).
  footprint: (ctx) => footprint(ctx),
  durable: async (ctx, plan) => {
    for (const n of plan.durable) await durableStore(ctx, n);
  },
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      backend: { type: 'string' },
      only: { type: 'string' },
      profile: { type: 'string' },
      subscribers: { type: 'string' },
      sync: { type: 'string' },
    },
  });
  const mode = values.full ? 'full' : 'quick';
  const plan = { ...PLAN[mode] };
  if (values.subscribers) plan.subscribers = values.subscribers.split(',').map(Number);
  if (values.sync) Object.assign(plan, { sync: values.sync.split(',').map(Number), syncVariants: false });
  const backendArg = values.backend ?? (process.env.DATABASE_URL ? 'postgres' : 'pglite');
  const kinds = backendArg === 'both' ? (['pglite', 'postgres'] as const) : [backendArg as 'pglite' | 'postgres'];
  if (!kinds.every((k) => k === 'pglite' || k === 'postgres')) throw new Error(`--backend must be pglite, postgres or both, not ${backendArg}`);
  const only = values.only?.split(',') ?? Object.keys(WORKLOADS);
  const unknown = only.filter((name) => !(name in WORKLOADS));
  if (unknown.length > 0) throw new Error(`--only: no workload ${unknown.join(', ')} (there are ${Object.keys(WORKLOADS).join(', ')})`);
  const adminUrl = process.env.DATABASE_URL ?? ADMIN_URL;

  const started = performance.now();
  const calibrationStart = calibrate();
  console.log(`calibration: ${calibrationStart.toFixed(1)} ms (bench/lib/calibrate.ts)`);
  const rows: Row[] = [];
  const versions: Record<string, string> = {};
  console.log(`keysync bench (${mode}): ${kinds.join(', ')}; workloads ${only.join(', ')}`);
  for (const kind of kinds) {
    const backend = await createBackend(kind, adminUrl);
    const floor = await openFloorDb(backend);
    versions[kind] = kind === 'pglite' ? `PGlite (PostgreSQL ${floor.version})` : backend.version;
    const ctx = contextFor(mode, backend, floor, (row) => (rows.push(row), printRow(row)), values.profile);
    try {
      for (const name of only) {
        const others = await waitQuiet(mode === 'full' ? 120 : 15);
        if (others >= 0.3) console.log(`  (the machine is busy: ${others.toFixed(1)} cores used by other processes)`);
        ctx.mark();
        const t = performance.now();
        await WORKLOADS[name]!(ctx, plan);
        console.log(`  (${kind} ${name}: ${((performance.now() - t) / 1000).toFixed(0)} s)`);
      }
    } finally {
      await floor.close();
      await backend.dispose();
    }
  }
  const report: Report = {
    mode,
    startedAt: new Date().toISOString(),
    seconds: (performance.now() - started) / 1000,
    machine: machine(versions),
    calibrationMs: { start: calibrationStart, end: calibrate() },
    rows,
  };
  const whole = values.only === undefined && values.sync === undefined && values.subscribers === undefined;
  const dir = writeReport(report, whole);
  console.log(`\n${markdown(report)}\nwritten to ${dir}latest.{json,md} in ${report.seconds.toFixed(0)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
