/**
 * Child process of the durable-store workload: one SyncClient into a
 * MemoryStore or a FileStore, in a process of its own so that its RSS and
 * its disk writes (/proc/self/io) are the store's and the sync loop's alone.
 * Commands:
 * - `sync`: an initial sync into a fresh store, timed from start to onComplete
 * - `reopen` (FileStore): close it, then time open until the first reads answer
 *
 * BENCH_CLIENT_ROOT: take the client from another checkout (before/after comparisons; bench/lib/child.ts).
 */
import { MemoryStore, SyncClient, type LocalStore } from '@keysync/client';
import { FileStore } from '@keysync/client/file-store';
import { childArgs, serveCommands } from '../lib/child-commands.js';
import { procStats, resetPeak, rssParts, writtenBytes } from '../lib/proc.js';

interface Args {
  baseUrl: string;
  storeId: string;
  kind: 'memory' | 'file';
  dir?: string;
}

const { baseUrl, storeId, kind, dir } = childArgs<Args>();

let store: LocalStore | undefined;

async function sync(): Promise<Record<string, number>> {
  store = kind === 'memory' ? new MemoryStore() : await FileStore.open(dir!);
  resetPeak('self');
  const startMB = procStats('self').rssMB;
  const writtenBefore = writtenBytes('self');
  const cpuBefore = procStats('self').cpuS;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const client: SyncClient = new SyncClient({
      baseUrl,
      storeId,
      store: store!,
      onComplete: () => {
        void client.unsubscribe();
        resolve();
      },
      onError: reject,
    });
    client.start();
  });
  const seconds = (performance.now() - started) / 1000;
  const written = writtenBytes('self') - writtenBefore;
  const mem = procStats('self');
  const parts = rssParts('self');
  const keys = Object.keys(await store.have()).length;
  return { seconds, written, keys, clientCpuS: mem.cpuS - cpuBefore, startMB, peakMB: mem.peakMB, rssMB: mem.rssMB, ...parts };
}

async function reopen(): Promise<Record<string, number>> {
  if (!store || kind !== 'file') throw new Error('reopen: sync a FileStore first');
  await store.close();
  const started = performance.now();
  store = await FileStore.open(dir!);
  const checkpoint = await store.getCheckpoint();
  const first = await store.get('doc/00000000');
  const seconds = (performance.now() - started) / 1000;
  if (checkpoint === undefined || first === undefined) throw new Error('reopen: the reopened store lost its replica');
  return { seconds };
}

serveCommands(async (msg: { cmd: 'sync' | 'reopen' }) => (msg.cmd === 'sync' ? sync() : reopen()));
