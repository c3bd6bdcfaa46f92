/**
 * Workload: the memory of an idle server with an empty store, run as `npm
 * start` runs it (the compiled server with its node flags; server.ts
 * the default). Embedded (PGlite): once in a new folder (started from the
 * template) and once reopened, since a first start leaves more behind; on
 * PostgreSQL, once. RSS is read a second after full garbage collections (the
 * probe), so it is what the server holds, not garbage it has not collected yet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, type BenchContext } from '../lib/context.js';
import { createStore } from '../lib/http.js';
import { rssParts } from '../lib/proc.js';
import { startServer, type Backend } from '../lib/server.js';
import { MB, sleep } from '../lib/stats.js';

const TARGET_MB = 180;

async function idleFootprint(ctx: BenchContext, backend: Backend, label: string): Promise<void> {
  const server = await startServer(backend, { probe: true, built: true });
  try {
    await createStore(server.url, `footprint-${label.replace(/\W+/g, '-')}`);
    // Start-up work (migrations check, first queries) settles before the reading.
    await sleep(2000);
    const probe = await server.probe();
    // Freed pages go back to the system while V8 sweeps, just after the collection.
    await sleep(1000);
    const { rssMB } = server.stats();
    const { anonMB, fileMB } = rssParts(server.pid);
    const embedded = backend.kind === 'pglite';
    ctx.emit({
      workload: 'idle footprint',
      case: label,
      result:
        `RSS ${fmt.mb(rssMB)} after a full GC (${fmt.mb(anonMB)} own, ${fmt.mb(fileMB)} mapped files); ` +
        `JS heap ${fmt.mb(probe.heapUsed / MB)}, external ${fmt.mb(probe.external / MB)} (array buffers ${fmt.mb(probe.arrayBuffers / MB)})`,
      ...(embedded ? { target: { goal: `< ${TARGET_MB} MB RSS`, ok: rssMB < TARGET_MB } } : {}),
      metrics: { rssMB, anonMB, fileMB, heapUsedMB: probe.heapUsed / MB, externalMB: probe.external / MB, arrayBuffersMB: probe.arrayBuffers / MB },
    });
  } finally {
    await server.stop();
  }
}

export async function footprint(ctx: BenchContext): Promise<void> {
  if (ctx.backend.kind !== 'pglite') return idleFootprint(ctx, ctx.backend, 'empty store');
  const dataDir = mkdtempSync(join(tmpdir(), 'keysync-footprint-'));
  try {
    await idleFootprint(ctx, { kind: 'pglite', dataDir }, 'empty store, new folder');
    await idleFootprint(ctx, { kind: 'pglite', dataDir }, 'empty store, reopened');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
