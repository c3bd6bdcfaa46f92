/**
 * The durable Node store: an initial sync of N keys (~1 KiB JSON) into a
 * FileStore, next to the same sync into a MemoryStore in the same run, each
 * in a fresh client process. Reports the bytes the client process wrote to
 * disk against the replica's size (keys plus value JSON), its RSS, the sync
 * time against MemoryStore's, and the time to reopen the store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild } from '../lib/child.js';
import { fmt, type BenchContext } from '../lib/context.js';
import { keyOf, loadKeys, valueOf } from '../lib/data.js';
import { createStore } from '../lib/http.js';
import { MB } from '../lib/stats.js';

interface SyncResult {
  seconds: number;
  written: number;
  keys: number;
  clientCpuS: number;
  /** RSS of the process before the sync: Node and the client's modules (bundled, bench/lib/child.ts) */
  startMB: number;
  peakMB: number;
  rssMB: number;
  anonMB: number;
  fileMB: number;
}

/** The targets: at 100k keys, and at 1M keys (no time or reopen target there). */
const targets = (n: number) =>
  n <= 100_000 ? { writtenX: 3, peakMB: 200, timeX: 1.5, reopenS: 0.5 } : { writtenX: 3, peakMB: 300, timeX: undefined, reopenS: undefined };

export async function durableStore(ctx: BenchContext, n: number): Promise<void> {
  const prefix = 'doc';
  const loader = await ctx.server({ profile: false });
  let storeId: string;
  try {
    storeId = await createStore(loader.url, `durable-${n}`);
    await loadKeys(loader.url, storeId, { prefix, n });
  } finally {
    await loader.stop();
  }
  let replicaBytes = 0;
  for (let i = 0; i < n; i++) replicaBytes += Buffer.byteLength(keyOf(prefix, i)) + Buffer.byteLength(JSON.stringify(valueOf(i)));

  const server = await ctx.server();
  const dir = await mkdtemp(join(tmpdir(), 'keysync-bench-durable-'));
  try {
    const memory = await syncIn(server.url, storeId, 'memory', undefined, n);
    ctx.mark();
    const file = await syncIn(server.url, storeId, 'file', dir, n);
    const t = targets(n);
    const writtenX = file.sync.written / replicaBytes;
    const timeX = file.sync.seconds / memory.seconds;
    const checks: Array<[string, boolean]> = [
      [`disk ≤ ${t.writtenX}x`, writtenX <= t.writtenX],
      [`RSS < ${t.peakMB} MB`, file.sync.peakMB < t.peakMB],
    ];
    if (t.timeX !== undefined) checks.push([`sync ≤ ${t.timeX}x memory`, timeX <= t.timeX]);
    if (t.reopenS !== undefined) checks.push([`reopen < ${t.reopenS} s`, file.reopenS! < t.reopenS]);
    const goal = checks.map(([what, ok]) => (ok ? what : `${what} (missed)`)).join(', ');
    ctx.emit({
      workload: 'durable store',
      case: `${fmt.n(n)} keys`,
      result:
        `sync ${fmt.s(file.sync.seconds)}; wrote ${fmt.mb(file.sync.written / MB)} for a ${fmt.mb(replicaBytes / MB)} replica (${fmt.x(writtenX)}); ` +
        `client peak ${fmt.mb(file.sync.peakMB)} (${fmt.mb(file.sync.startMB)} before the sync; at the end ${fmt.mb(file.sync.anonMB)} own, ${fmt.mb(file.sync.fileMB)} mapped files), ` +
        `${file.sync.clientCpuS.toFixed(1)} CPU s; reopen ${fmt.s(file.reopenS!)}`,
      versus: `${fmt.x(timeX)} MemoryStore (${fmt.s(memory.seconds)}, client peak ${fmt.mb(memory.peakMB)})`,
      target: { goal, ok: checks.every(([, ok]) => ok) },
      metrics: {
        keys: n,
        replicaBytes,
        seconds: file.sync.seconds,
        memorySeconds: memory.seconds,
        timeRatio: timeX,
        writtenBytes: file.sync.written,
        writtenRatio: writtenX,
        clientStartMB: file.sync.startMB,
        clientPeakMB: file.sync.peakMB,
        clientAnonMB: file.sync.anonMB,
        clientFileMB: file.sync.fileMB,
        clientCpuS: file.sync.clientCpuS,
        memoryPeakMB: memory.peakMB,
        reopenS: file.reopenS!,
      },
    });
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function syncIn(baseUrl: string, storeId: string, kind: 'memory' | 'file', dir: string | undefined, n: number) {
  const child = startChild('durable-child.ts', { baseUrl, storeId, kind, dir }, 16_384);
  try {
    const sync = await child.ask<SyncResult>({ cmd: 'sync' });
    if (sync.keys !== n) throw new Error(`durable store: the ${kind} replica holds ${sync.keys} keys, expected ${n}`);
    const reopenS = kind === 'file' ? (await child.ask<{ seconds: number }>({ cmd: 'reopen' })).seconds : undefined;
    return { ...sync, sync, reopenS };
  } finally {
    await child.stop();
  }
}
