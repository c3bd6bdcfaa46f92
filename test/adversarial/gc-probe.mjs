// Loaded into a server under test (`--expose-gc --import`): on SIGUSR2 it runs two full
// garbage collections and prints one JSON line with its memory use (see support.ts).
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  console.log(
    JSON.stringify({
      gcProbe: { gc: typeof globalThis.gc === 'function', rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers },
    }),
  );
});
