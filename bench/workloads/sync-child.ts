/**
 * Child process: a SyncClient into a MemoryStore, timed from start to
 * onComplete, with every byte counted. Commands:
 * - `initial`: a fresh replica; also keeps a copy without checkpoint (for `have`)
 * - `since`: reconnect the replica (it has a checkpoint, so `since`)
 * - `have`: reconnect the copy (no checkpoint, so its full `have` map)
 */
import { MemoryStore, SyncClient, type LocalStore } from '@keysync/client';
import { childArgs, serveCommands } from '../lib/child-commands.js';
import { countingFetch, socketBytes } from '../lib/http.js';
import { procStats, resetPeak } from '../lib/proc.js';

const { baseUrl, storeId, batchSize, acceptEncoding } = childArgs<{ baseUrl: string; storeId: string; batchSize?: number; acceptEncoding?: string }>();
const wire = socketBytes();

let replica: MemoryStore | undefined;
let copy: MemoryStore | undefined;

async function syncOnce(store: LocalStore) {
  // The client as it ships (on Node, batches over its own transport), unless a coding is forced,
  // which only a fetch of ours can ask for (the compression workload): then every request goes through it.
  const counter = acceptEncoding === undefined ? undefined : countingFetch(acceptEncoding);
  const wireBefore = wire.read();
  const cpuBefore = procStats('self').cpuS;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const client: SyncClient = new SyncClient({
      baseUrl,
      storeId,
      store,
      batchSize,
      ...(counter && { fetch: counter.fetch }),
      onComplete: () => {
        void client.unsubscribe();
        resolve();
      },
      onError: reject,
    });
    client.start();
  });
  const seconds = (performance.now() - started) / 1000;
  const wireAfter = wire.read();
  return {
    seconds,
    clientCpuS: procStats('self').cpuS - cpuBefore,
    wireReceived: wireAfter.read - wireBefore.read,
    wireSent: wireAfter.written - wireBefore.written,
    // Without a counting fetch, the bytes on the wire: identity bodies plus their headers (about 0.1%).
    sent: counter?.sent ?? wireAfter.written - wireBefore.written,
    received: counter?.received ?? wireAfter.read - wireBefore.read,
    bodyReceived: counter?.bodyReceived ?? wireAfter.read - wireBefore.read,
    requests: counter?.requests ?? wireAfter.requests - wireBefore.requests,
  };
}

async function snapshot(from: MemoryStore): Promise<MemoryStore> {
  const keys = Object.keys(await from.have());
  const records = await Promise.all(keys.map((k) => from.get(k)));
  const to = new MemoryStore();
  await to.applyBatch(records.filter((r) => r !== undefined));
  return to;
}

serveCommands(async (msg: { cmd: 'initial' | 'since' | 'have' }) => {
  if (msg.cmd === 'initial') {
    resetPeak('self');
    replica = new MemoryStore();
    const result = await syncOnce(replica);
    const keys = Object.keys(await replica.have()).length;
    const mem = procStats('self');
    copy = await snapshot(replica);
    return { ...result, keys, clientPeakMB: mem.peakMB };
  }
  const store = msg.cmd === 'since' ? replica : copy;
  if (!store) throw new Error('run `initial` first');
  return syncOnce(store);
});
