/**
 * Loaded into the server under test (`--expose-gc --import`) by workloads
 * that measure retained memory: on SIGUSR2 the server runs two full garbage
 * collections and prints one JSON line with its memory use, which the bench
 * reads from its stdout (see server.ts `probe`). Nothing in the server knows
 * about it. Plain JavaScript, so that the built server (`dist/`, no tsx)
 * can load it too.
 */
import { writeHeapSnapshot } from 'node:v8';

process.on('SIGUSR2', () => {
  const gc = globalThis.gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  // BENCH_HEAP_SNAPSHOT_DIR: also write a heap snapshot there (to see what an idle feed holds).
  const dir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
  const snapshot = dir ? writeHeapSnapshot(`${dir}/keysync-${process.pid}-${Date.now()}.heapsnapshot`) : undefined;
  console.log(
    JSON.stringify({ benchProbe: { gc: gc !== undefined, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss, snapshot } }),
  );
});
