/**
 * Workload 6: N idle live subscribers (another process). The first fifth is
 * opened and the server's RSS taken; then the rest, and the RSS growth over
 * those divided by their number is what one idle connection costs (the
 * first fifth absorbs one-off growth: code warm-up, V8's young generation).
 */
import { startChild } from '../lib/child.js';
import { fmt, type BenchContext } from '../lib/context.js';
import { createStore } from '../lib/http.js';
import { sleep } from '../lib/stats.js';

export async function idleConnections(ctx: BenchContext, n: number): Promise<void> {
  const server = await ctx.server();
  try {
    const storeId = await createStore(server.url, `idle-${n}`);
    const child = startChild('subscribers-child.ts', { baseUrl: server.url, storeId });
    try {
      const first = Math.round(n / 5);
      await child.ask({ cmd: 'open', count: first, capacity: 16 });
      await sleep(2000);
      const before = server.stats().rssMB;
      const started = performance.now();
      await child.ask({ cmd: 'open', count: n - first, capacity: 16 });
      const openS = (performance.now() - started) / 1000;
      await sleep(3000);
      const after = server.stats();
      const perConnKB = ((after.rssMB - before) * 1024) / (n - first);
      ctx.emit({
        workload: 'idle connections',
        case: `${fmt.n(n)} live subscribers`,
        result: `${perConnKB.toFixed(1)} KB per connection (RSS ${fmt.mb(before)} at ${fmt.n(first)} → ${fmt.mb(after.rssMB)} at ${fmt.n(n)}); ${fmt.n(n - first)} opened in ${fmt.s(openS)}`,
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
