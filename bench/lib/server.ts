/**
 * The server under test as a separate process: `node --import tsx
 * src/index.ts`, with the fd limit raised to the hard limit and the limits
 * that would cap a benchmark (subscribers, have keys) lifted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { procStats, resetPeak, type ProcStats } from './proc.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Backend {
  kind: 'pglite' | 'postgres';
  /** postgres: the bench database URL; pglite: unset */
  databaseUrl?: string;
  /** pglite: the data folder */
  dataDir?: string;
}

export interface ServerOptions {
  env?: Record<string, string>;
  /** folder for a V8 CPU profile written at exit */
  cpuProfDir?: string;
}

export interface BenchServer {
  url: string;
  pid: number;
  stats(): ProcStats;
  resetPeak(): void;
  stop(): Promise<void>;
}

const BENCH_ENV: Record<string, string> = {
  HOST: '127.0.0.1',
  PORT: '0',
  KEYSYNC_LOG: 'off',
  KEYSYNC_MAX_SUBSCRIBERS: '100000',
  KEYSYNC_MAX_SUBSCRIBERS_PER_STORE: '100000',
  KEYSYNC_MAX_SUBSCRIBERS_PER_CLIENT: '100000',
  KEYSYNC_MAX_HAVE_KEYS: '10000000',
  KEYSYNC_RATE_LIMIT: '0',
};

export async function startServer(backend: Backend, opts: ServerOptions = {}): Promise<BenchServer> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(KEYSYNC_|DATABASE_URL$|PORT$|HOST$)/.test(k)) env[k] = v;
  }
  Object.assign(env, BENCH_ENV, opts.env);
  if (backend.kind === 'postgres') env.DATABASE_URL = backend.databaseUrl!;
  else env.KEYSYNC_DATA_DIR = backend.dataDir!;

  const nodeArgs = ['--import', 'tsx'];
  if (opts.cpuProfDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`);
  // `exec` keeps the pid: /proc/<pid> is node's own.
  const script = `ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  // BENCH_SERVER_ROOT: another checkout's server (before/after comparisons of a change).
  const child = spawn('bash', ['-c', script, process.execPath, ...nodeArgs, 'src/index.ts'], {
    cwd: process.env.BENCH_SERVER_ROOT ?? REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await listening(child);
  const pid = child.pid!;
  return {
    url,
    pid,
    stats: () => procStats(pid),
    resetPeak: () => void resetPeak(pid),
    stop: () => stop(child),
  };
}

function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    // Both pipes are always drained: a full pipe would stall the server.
    child.stdout!.on('data', (chunk: Buffer) => {
      if (process.env.BENCH_SERVER_LOG) process.stdout.write(chunk);
      out += chunk.toString();
      const m = /listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m) {
        out = '';
        resolve(m[1]!);
      }
      if (out.length > 1e5) out = out.slice(-1000);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-4000);
      process.stderr.write(chunk);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${err}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(force);
}
