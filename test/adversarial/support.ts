/**
 * Attacks on a real server process: a crashed or stalled process fails the
 * test instead of the test runner, and memory is measured on the server
 * alone. The database is prepared in this process first (stores, and values
 * written below the HTTP layer, as data stored before a limit existed would
 * be), then the server process opens it, on the backend the suite runs on.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createKeysync, type Keysync } from '../../src/keysync.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { exitWithin, spawnServer, tempDir, type ServerProcess } from '../support/process.js';

export interface AdversarialServer {
  url: string;
  proc: ServerProcess;
  /** the server's resident memory now, in bytes */
  rss(): number;
  stop(): Promise<void>;
}

/**
 * Runs `prepare` against the test database in this process, then starts the
 * server process on it with `env`.
 */
export async function serverOn(env: Record<string, string>, prepare?: (keysync: Keysync) => Promise<void>): Promise<AdversarialServer> {
  let db: TestDatabase | undefined;
  let dataDir: string | undefined;
  if (process.env.TEST_DATABASE_URL) db = await createTestDatabase();
  else dataDir = tempDir('keysync-adv-');
  if (prepare) {
    const keysync = await createKeysync(db ? { database: db.database, log: false, housekeepingMs: 0 } : { dataDir, log: false, housekeepingMs: 0 });
    try {
      await prepare(keysync);
    } finally {
      await keysync.close({ closeDatabase: true });
    }
  }
  const proc = spawnServer({ ...(db ? { DATABASE_URL: db.url! } : { KEYSYNC_DATA_DIR: dataDir! }), ...env });
  let url: string;
  try {
    url = await proc.listening;
  } catch (err) {
    await db?.drop();
    throw err;
  }
  return {
    url,
    proc,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.child.pid}/status`, 'utf8'))![1]) * 1024,
    async stop() {
      proc.kill('SIGTERM');
      await exitWithin(proc, 15_000);
      await db?.drop();
    },
  };
}

/** NODE_OPTIONS for `serverOn` that make `memoryAfterGc` work. */
export const GC_PROBE_OPTIONS = `--expose-gc --import ${new URL('./gc-probe.mjs', import.meta.url).href}`;

export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Two full GCs in the server (started with GC_PROBE_OPTIONS), then its memory use. */
export async function memoryAfterGc(server: AdversarialServer): Promise<Memory> {
  const seen = server.proc.stdout().length;
  server.proc.child.kill('SIGUSR2');
  for (let i = 0; i < 200; i++) {
    const m = /\{"gcProbe":(\{[^}]*\})\}/.exec(server.proc.stdout().slice(seen));
    if (m) return JSON.parse(m[1]!) as Memory;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the server did not answer the memory probe');
}

/** A live feed request on a raw socket that never reads its response: the server sees a client that stopped reading. */
export function stalledFeed(url: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

/** Open live feeds of the server, from /metrics. */
export async function liveFeeds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^keysync_live_subscribers (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Registers a store through the app (no HTTP socket) and returns its id. */
export async function registerStore(keysync: Keysync, name: string, options?: unknown): Promise<string> {
  const res = await keysync.app.request('/v1/stores', {
    method: 'POST',
    headers: { 'content-type': 'application/json', host: '127.0.0.1' },
    body: JSON.stringify({ config: { scope: '00000000-0000-4000-8000-000000000000', name }, ...(options ? { options } : {}) }),
  });
  const body = (await res.json()) as { storeId: string };
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(body)}`);
  return body.storeId;
}

/**
 * Latencies (ms) of GET /healthz, one after another with `gapMs` between,
 * for as long as `work` runs; `work`'s outcome is returned with them.
 */
export async function probeWhile<T>(
  url: string,
  work: Promise<T>,
  gapMs = 20,
  onProbe?: () => void,
): Promise<{ result: PromiseSettledResult<T>; latencies: number[] }> {
  let done = false;
  const settled = Promise.allSettled([work]).then(([r]) => {
    done = true;
    return r!;
  });
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(60_000) });
    await res.text();
    latencies.push(performance.now() - started);
    onProbe?.();
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return { result: await settled, latencies };
}

/** The q-quantile of `values` (0..1). */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}
