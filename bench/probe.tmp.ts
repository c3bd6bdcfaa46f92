import { startServer } from './lib/server.js';
import { createBackend } from './lib/backend.js';
import { createStore } from './lib/http.js';
import { loadKeys } from './lib/data.js';
import { procStats } from './lib/proc.js';
import { MemoryStore, SyncClient } from '../clients/typescript/src/index.js';
const backend = await createBackend('postgres', 'postgres://postgres@127.0.0.1:5432/postgres');
const server = await startServer(backend, {});
const storeId = await createStore(server.url, 'x');
await loadKeys(server.url, storeId, { prefix: 'doc', n: 20000 });
for (const batchSize of [undefined, 1000]) {
  const times = new Map<string, number[]>();
  let last = performance.now();
  const f = async (input: string, init?: RequestInit) => {
    const t = performance.now(); const r = await fetch(input, init); const b = await r.arrayBuffer();
    const kind = input.includes('/batches/') ? 'batch' : input.endsWith('/ack') ? 'ack' : input.endsWith('/sync') ? 'handshake' : 'other';
    const now = performance.now();
    (times.get(kind) ?? times.set(kind, []).get(kind)!).push(now - t);
    (times.get('gap') ?? times.set('gap', []).get('gap')!).push(t - last);
    last = now;
    return new Response(b, { status: r.status, headers: r.headers });
  };
  const cpu0 = procStats('self').cpuS, s0 = server.stats().cpuS;
  const t = performance.now();
  await new Promise<void>((resolve) => { const c = new SyncClient({ baseUrl: server.url, storeId, store: new MemoryStore(), batchSize, fetch: f, onComplete: () => { void c.unsubscribe(); resolve(); } }); c.start(); });
  console.log('batchSize', batchSize, 'sync ms', (performance.now() - t).toFixed(0), 'client cpu', (procStats('self').cpuS - cpu0).toFixed(2), 'server cpu', (server.stats().cpuS - s0).toFixed(2));
  for (const [k, v] of times) console.log(' ', k, 'n', v.length, 'sum', v.reduce((a, b) => a + b, 0).toFixed(0), 'median', v.sort((a, b) => a - b)[v.length >> 1]!.toFixed(1));
}
await server.stop(); await backend.dispose();
