/**
 * Workload 6: N idle live subscribers (another process): what one idle
 * connection costs the server while it stays open.
 *
 * A deployed server has served feeds before: n feeds of another store are
 * opened and closed first, so that the code their opening runs is compiled
 * before the measurement (on PGlite, V8 optimizes the database's hot
 * WebAssembly functions only after they have run a while, with `npm start`'s
 * --wasm-tiering-budget; that compiler's memory, 10-16 MB, landed between the
 * two readings and read as 25-41 KB per feed). Then the first fifth is
 * opened (it absorbs what one-off growth is left: lazily built state), then
 * the rest. The server runs with the bench's probe
 * (server-probe.mjs): at both points it collects garbage fully and the RSS is
 * read a second later, so the cost per connection is the memory the open
 * feeds hold, not the garbage their opening left (which an idle server may
 * not collect for a long time, or ever: nothing allocates). That garbage is
 * reported too, as the RSS growth before the second collection.
 *
 * The cost is the larger of the RSS and JS heap growth: freed pages the
 * heap kept from start-up can take a few hundred feeds without RSS growing,
 * which would understate what each one holds.
 */
import { startChild } from '../lib/child.js';
import { fmt, type BenchContext } from '../lib/context.js';
import { createStore } from '../lib/http.js';
import { MB, sleep } from '../lib/stats.js';
import type { BenchServer } from '../lib/server.js';

/** RSS (MB) and JS heap (bytes) right after full garbage collections, once the server has settled. */
async function settled(server: BenchServer): Promise<{ rssMB: number; heapUsed: number }> {
  const { heapUsed } = await server.probe();
  // Freed pages go back to the system while V8 sweeps, just after the collection.
  await sleep(1000);
  return { rssMB: server.stats().rssMB, heapUsed };
}

export async function idleConnections(ctx: BenchContext, n: number): Promise<void> {
  const server = await ctx.server({ probe: true });
  try {
    const warmUpId = await createStore(server.url, `idle-warm-up-${n}`);
    const warmUp = startChild('subscribers-child.ts', { baseUrl: server.url, storeId: warmUpId });
    try {
      await warmUp.ask({ cmd: 'open', count: n, capacity: 16 });
      await warmUp.ask({ cmd: 'close' });
    } finally {
      await warmUp.stop();
    }
    const storeId = await createStore(server.url, `idle-${n}`);
    const child = startChild('subscribers-child.ts', { baseUrl: server.url, storeId });
    try {
      const first = Math.round(n / 5);
      await child.ask({ cmd: 'open', count: first, capacity: 16 });
      await sleep(2000);
      const before = await settled(server);
      const started = performance.now();
      await child.ask({ cmd: 'open', count: n - first, capacity: 16 });
      const openS = (performance.now() - started) / 1000;
      await sleep(3000);
      const uncollectedMB = server.stats().rssMB;
      const after = await settled(server);
      const opened = n - first;
      const perConnKB = ((after.rssMB - before.rssMB) * 1024) / opened;
      const heapKB = (after.heapUsed - before.heapUsed) / 1024 / opened;
      const garbageKB = ((uncollectedMB - after.rssMB) * 1024) / opened;
      const costKB = Math.max(perConnKB, heapKB);
      ctx.emit({
        workload: 'idle connections',
        case: `${fmt.n(n)} live subscribers`,
        result:
          `${costKB.toFixed(1)} KB per connection: after a full GC RSS +${perConnKB.toFixed(1)} KB, JS heap +${heapKB.toFixed(1)} KB each ` +
          `(RSS ${fmt.mb(before.rssMB)} at ${fmt.n(first)} → ${fmt.mb(after.rssMB)} at ${fmt.n(n)}); before that GC ${fmt.mb(uncollectedMB)} ` +
          `(${garbageKB.toFixed(1)} KB per open not yet collected); ${fmt.n(opened)} opened in ${fmt.s(openS)}`,
        target: { goal: '< 20 KB each (the larger of RSS and heap growth, after GC)', ok: costKB < 20 },
        metrics: {
          connections: n,
          rssBeforeMB: before.rssMB,
          rssAfterMB: after.rssMB,
          rssUncollectedMB: uncollectedMB,
          heapBeforeMB: before.heapUsed / MB,
          heapAfterMB: after.heapUsed / MB,
          perConnKB: costKB,
          rssPerConnKB: perConnKB,
          heapPerConnKB: heapKB,
          garbagePerOpenKB: garbageKB,
          openS,
        },
      });
      await child.ask({ cmd: 'close' });
    } finally {
      await child.stop();
    }
  } finally {
    await server.stop();
  }
}
