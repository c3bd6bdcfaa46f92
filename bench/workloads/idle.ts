/**
 * Workload 6: N idle live subscribers (another process); the server's RSS
 * growth divided by N is the memory one idle connection costs.
 */
import { startChild } from '../lib/child.js';
import { fmt, type BenchContext } from '../lib/context.js';
import { createStore } from '../lib/http.js';
import { sleep } from '../lib/stats.js';

export async function idleConnections(ctx: BenchContext, n: number): Promise<void> {
  const server = await ctx.server();
  try {
    const storeId = await createStore(server.url, `idle-${n}`);
    // Warm the feed path once so its code and first allocations are not charged to the N.
    const warm = startChild('subscribers-child.ts', { baseUrl: server.url, storeId });
    await warm.ask({ cmd: 'open', count: 10, capacity: 16 });
    await warm.stop();
    await sleep(2000);
    const before = server.stats().rssMB;
    const child = startChild('subscribers-child.ts', { baseUrl: server.url, storeId });
    try {
      const started = performance.now();
      await child.ask({ cmd: 'open', count: n, capacity: 16 });
      const openS = (performance.now() - started) / 1000;
      await sleep(3000);
      const after = server.stats();
      const perConnKB = ((after.rssMB - before) * 1024) / n;
      ctx.emit({
        workload: 'idle connections',
        case: `${fmt.n(n)} live subscribers`,
        result: `${perConnKB.toFixed(1)} KB per connection (RSS ${fmt.mb(before)} → ${fmt.mb(after.rssMB)}); all open in ${fmt.s(openS)}`,
        target: { goal: '< 20 KB each', ok: perConnKB < 20 },
        metrics: { connections: n, rssBeforeMB: before, rssAfterMB: after.rssMB, perConnKB, openS },
      });
      await child.ask({ cmd: 'close' });
    } finally {
      await child.stop();
    }
  } finally {
    await server.stop();
  }
}
