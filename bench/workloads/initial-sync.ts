/**
 * Workloads 1 and 2: initial sync of N keys (~1 KiB JSON) into a fresh
 * SyncClient + MemoryStore, next to the database and network floors; then
 * 1% of the keys change and the replica reconnects with `since` (three
 * times, the same keys changing again before each: the median counts), and
 * a copy of it (no checkpoint) by what it holds: the TS client sends bucket
 * digests, then the keys of the buckets that differ. The client runs with its
 * defaults, which on a loopback server means identity responses (the
 * compression workload measures brotli and gzip). The server has served one
 * small sync of another store before (WARM_UP_KEYS), and that replica's
 * `since` and `have` reconnects: a running server's code is warm, and the
 * floors read after a warm-up too.
 */
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { startChild } from '../lib/child.js';
import { fmt, type BenchContext } from '../lib/context.js';
import { keyOf, loadKeys, valueOf } from '../lib/data.js';
import { canCopy } from '../lib/floor-db.js';
import { createStore } from '../lib/http.js';
import { loopbackSeconds } from '../lib/loopback.js';
import { measured } from '../lib/proc.js';
import { MB } from '../lib/stats.js';

/** `since` reconnects measured, each after the same 1% of keys changed again. */
const SINCE_ROUNDS = 3;

interface SyncRun {
  seconds: number;
  sent: number;
  received: number;
  bodyReceived: number;
  /** as they crossed the socket: bodies as sent (compressed if the client asked for it) */
  wireReceived: number;
  wireSent: number;
  requests: number;
  clientCpuS: number;
  keys?: number;
  clientPeakMB?: number;
}

/** Keys of the store a fresh server syncs once before the measured sync (see initialSync), and how many of them change before its reconnects. */
const WARM_UP_KEYS = 2000;
const WARM_UP_CHANGED = 20;

export interface SyncVariant {
  /** the batchSize the client asks for (default: the TS client's own default, 1000) */
  batchSize?: number;
  /** the server's KEYSYNC_BATCH_WINDOW (default: the server's own default) */
  window?: number;
}

export async function initialSync(ctx: BenchContext, n: number, { batchSize, window }: SyncVariant = {}): Promise<void> {
  const label = [`${fmt.n(n)} keys`, batchSize ? `batchSize ${batchSize}` : '', window ? `window ${window}` : ''].filter(Boolean).join(', ');
  const prefix = 'doc';
  // Loaded by one server process; a fresh one serves the sync (its memory and profile are the sync's alone).
  const loader = await ctx.server({ profile: false });
  let storeId: string;
  let warmUpId: string;
  try {
    storeId = await createStore(loader.url, `initial-${n}-${batchSize ?? 'default'}-${window ?? 'default'}`);
    warmUpId = await createStore(loader.url, `warm-up-${n}-${batchSize ?? 'default'}-${window ?? 'default'}`);
    await loadKeys(loader.url, warmUpId, { prefix: 'warm', n: WARM_UP_KEYS });
    const load = await loadKeys(loader.url, storeId, { prefix, n });
    ctx.emit({
      workload: 'load (bulk 1000)',
      case: `${fmt.n(n)} keys`,
      result: `${fmt.n(n / load.seconds)} keys/s (${fmt.s(load.seconds)})`,
      metrics: { keys: n, seconds: load.seconds, keysPerS: n / load.seconds },
    });
  } finally {
    await loader.stop();
  }
  await ctx.floor.settleLoad();
  const server = await ctx.server(window ? { env: { KEYSYNC_BATCH_WINDOW: String(window) } } : {});
  try {
    // A deployed server has served before: one small sync of another store, so that the measured
    // one is not the process's first (its JIT, and on PGlite the engine's WebAssembly, still cold).
    const warmUp = startChild('sync-child.ts', { baseUrl: server.url, storeId: warmUpId, batchSize }, 1024);
    try {
      await warmUp.ask<SyncRun>({ cmd: 'initial' });
      // And has answered reconnects: the measured ones are not its first `since` and digest handshakes either.
      await loadKeys(server.url, warmUpId, { prefix: 'warm', n: WARM_UP_CHANGED, version: 1 });
      await warmUp.ask<SyncRun>({ cmd: 'since' });
      await warmUp.ask<SyncRun>({ cmd: 'have' });
    } finally {
      await warmUp.stop();
    }
    const child = startChild('sync-child.ts', { baseUrl: server.url, storeId, batchSize }, 16_384);
    try {
      const { value: run, cpuS, peakMB, rssBeforeMB } = await measured(server.pid, () => child.ask<SyncRun>({ cmd: 'initial' }));
      if (run.keys !== n) throw new Error(`initial sync: the replica holds ${run.keys} keys, expected ${n}`);
      const floors = await syncFloors(ctx, storeId, n, prefix, run.bodyReceived);
      const mbps = run.bodyReceived / MB / run.seconds;
      const versus = [
        floors.cursorS !== undefined ? `${fmt.x(run.seconds / floors.cursorS)} ${floors.cursorName} (${fmt.s(floors.cursorS)})` : '',
        `${fmt.x(run.seconds / floors.httpS)} one HTTP response (${fmt.s(floors.httpS)})`,
      ].filter(Boolean);
      ctx.emit({
        workload: 'initial sync',
        case: label,
        result:
          `${fmt.s(run.seconds)}, ${fmt.n(n / run.seconds)} keys/s, ${fmt.n(mbps)} MB/s; server ${cpuS.toFixed(1)} CPU s, ` +
          `peak ${fmt.mb(peakMB)} (idle ${fmt.mb(rssBeforeMB)}); client ${run.clientCpuS.toFixed(1)} CPU s, peak ${fmt.mb(run.clientPeakMB!)}`,
        versus: versus.join('; '),
        target: floors.cursorS !== undefined ? syncTarget(floors.cursorName, n, run.seconds / floors.cursorS, peakMB) : undefined,
        metrics: {
          keys: n,
          batchSize: batchSize ?? null,
          window: window ?? DEFAULT_LIMITS.batchWindow,
          seconds: run.seconds,
          keysPerS: n / run.seconds,
          mbPerS: mbps,
          bytes: run.received,
          wireBytes: run.wireReceived + run.wireSent,
          wireBytesPerDoc: (run.wireReceived + run.wireSent) / n,
          requests: run.requests,
          serverCpuS: cpuS,
          serverPeakMB: peakMB,
          serverRssBeforeMB: rssBeforeMB,
          clientPeakMB: run.clientPeakMB!,
          clientCpuS: run.clientCpuS,
          cursorFloorS: floors.cursorS ?? null,
          httpFloorS: floors.httpS,
          ratioToCursor: floors.cursorS ? run.seconds / floors.cursorS : null,
          ratioToHttp: run.seconds / floors.httpS,
        },
      });

      // Workload 2: 1% of the keys change, then reconnect. `since` three times, each after the same keys
      // change again (a single reconnect of 20-30 ms moved by a third between runs of the same code);
      // then the copy without checkpoint, which holds none of the changes: 1% of its keys differ.
      const changed = Math.max(1, Math.round(n / 100));
      const step = Math.floor(n / changed);
      const keys = Array.from({ length: changed }, (_, i) => i * step);
      const sinceRuns: SyncRun[] = [];
      for (let version = 1; version <= SINCE_ROUNDS; version++) {
        await loadKeys(server.url, storeId, { prefix, n: changed, version, keys });
        sinceRuns.push(await child.ask<SyncRun>({ cmd: 'since' }));
      }
      const sinceMedian = [...sinceRuns].sort((a, b) => a.seconds - b.seconds)[SINCE_ROUNDS >> 1]!;
      const emitReconnect = (mode: 'since' | 'have', re: SyncRun, note = '') => {
        const bytes = re.sent + re.received;
        const base = run.sent + run.received;
        // `since` sends a rev; `have` sends digests, then the keys of the buckets that differ (docs/API.md, "Digests").
        const target =
          mode === 'since'
            ? { goal: '< 3% of time and bytes', ok: re.seconds < 0.03 * run.seconds && bytes < 0.03 * base }
            : { goal: '< 8% of time', ok: re.seconds < 0.08 * run.seconds };
        ctx.emit({
          workload: 'reconnect after 1%',
          case: `${mode}, ${label}`,
          result: `${fmt.s(re.seconds)}${note}, ${fmt.mb(bytes / MB)} on the wire (${fmt.n(changed)} keys changed)`,
          versus: `${fmt.pct(re.seconds / run.seconds)} of the initial time, ${fmt.pct(bytes / base)} of its bytes`,
          target,
          metrics: { keys: n, changed, mode, seconds: re.seconds, bytes, timeRatio: re.seconds / run.seconds, byteRatio: bytes / base },
        });
      };
      emitReconnect('since', sinceMedian, `, median of ${SINCE_ROUNDS} (${sinceRuns.map((r) => fmt.s(r.seconds)).join(', ')})`);
      emitReconnect('have', await child.ask<SyncRun>({ cmd: 'have' }));
    } finally {
      await child.stop();
    }
  } finally {
    await server.stop();
  }
}

/**
 * Issue #16: at most 2x the postgres.js cursor (3x at a million keys), 2.5x
 * in-process PGlite on the embedded database, whose server also stays under
 * 400 MB while it serves a million keys.
 */
function syncTarget(floorName: string, n: number, ratio: number, serverPeakMB: number): { goal: string; ok: boolean } {
  if (floorName === 'in-process PGlite') {
    const bound = n >= 1_000_000 ? 400 : undefined;
    return {
      goal: `≤ 2.5x in-process PGlite${bound ? `, server peak < ${bound} MB` : ''}`,
      ok: ratio <= 2.5 && (bound === undefined || serverPeakMB < bound),
    };
  }
  const most = n >= 1_000_000 ? 3 : 2;
  return { goal: `≤ ${most}x cursor floor`, ok: ratio <= most };
}

/** The same rows read by rev straight from the database, and the same bytes over one HTTP response. */
async function syncFloors(ctx: BenchContext, storeId: string, n: number, prefix: string, bytes: number) {
  let cursorS: number | undefined;
  let cursorName = 'postgres.js cursor';
  const db = ctx.floor;
  if (canCopy(db)) {
    // PGlite: the rows are copied into an in-process PGlite and read there by rev pages.
    cursorName = 'in-process PGlite';
    const chunk = 10_000;
    for (let i = 0; i < n; i += chunk) {
      const rows = Array.from({ length: Math.min(chunk, n - i) }, (_, j) => ({ key: keyOf(prefix, i + j), json: JSON.stringify(valueOf(i + j)) }));
      await db.copyRows(storeId, rows, i + 1);
    }
  }
  const scan = async () => {
    const started = performance.now();
    const { rows } = await db.scan(storeId);
    if (rows !== n) throw new Error(`floor scan: ${rows} rows, expected ${n}`);
    return (performance.now() - started) / 1000;
  };
  await scan(); // warm the cache, as the sync before it did for the server
  cursorS = await scan();
  const httpS = await loopbackSeconds(bytes);
  return { cursorS, cursorName, httpS };
}
