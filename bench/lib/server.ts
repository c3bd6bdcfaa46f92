/**
 * The server under test as a separate process: `npm start`'s command itself
 * (the compiled server with its node flags, built first if stale), as a
 * deployment runs it, with the fd limit raised to the hard limit and the
 * limits that would cap a benchmark (subscribers, have keys) lifted.
 * BENCH_SERVER_SOURCE=1 runs `node --import tsx src/index.ts` instead (no
 * build step while editing; a worker thread then pays tsx's start-up too).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  /** load server-probe.mjs (with --expose-gc): `probe()` then collects garbage and reports memory */
  probe?: boolean;
  /** false: run src/index.ts through tsx (default: dist/src/index.js unless BENCH_SERVER_SOURCE=1) */
  built?: boolean;
}

/** The server's memory right after two full garbage collections (bytes). */
export interface Probe {
  gc: boolean;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

export interface BenchServer {
  url: string;
  pid: number;
  stats(): ProcStats;
  resetPeak(): void;
  /** full GC in the server, then its memory use (needs `probe: true`) */
  probe(): Promise<Probe>;
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

  const root = process.env.BENCH_SERVER_ROOT ?? REPO_ROOT;
  const built = opts.built ?? process.env.BENCH_SERVER_SOURCE !== '1';
  if (built) ensureBuilt(root);
  const nodeArgs = [...nodeFlags(root), ...(built ? [] : ['--import', 'tsx'])];
  if (opts.cpuProfDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`);
  if (opts.probe) nodeArgs.push('--expose-gc', '--import', fileURLToPath(new URL('./server-probe.mjs', import.meta.url)));
  // `exec` keeps the pid: /proc/<pid> is node's own.
  const script = `ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  // BENCH_SERVER_ROOT: another checkout's server (before/after comparisons of a change).
  const child = spawn('bash', ['-c', script, process.execPath, ...nodeArgs, built ? 'dist/src/index.js' : 'src/index.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const probes: Array<(p: Probe) => void> = [];
  const url = await listening(child, (p) => probes.shift()?.(p));
  const pid = child.pid!;
  return {
    url,
    pid,
    stats: () => procStats(pid),
    resetPeak: () => void resetPeak(pid),
    probe: () => {
      if (!opts.probe) return Promise.reject(new Error('probe() needs a server started with probe: true'));
      const answer = new Promise<Probe>((resolve) => probes.push(resolve));
      child.kill('SIGUSR2');
      return answer;
    },
    stop: () => stop(child),
  };
}

/** `npm start`'s prestart check: builds the server when the sources are newer than dist/. */
function ensureBuilt(root: string): void {
  const built = spawnSync(process.execPath, ['scripts/ensure-built.mjs'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('the server could not be built (npm run build)');
}

/**
 * The server's node flags: those of `npm start` (package.json), so that every
 * workload measures the server as it is deployed. BENCH_SERVER_NODE_FLAGS
 * replaces them (space-separated; empty for none) to measure what a flag costs.
 */
function nodeFlags(root: string): string[] {
  const override = process.env.BENCH_SERVER_NODE_FLAGS;
  if (override !== undefined) return override.split(/\s+/).filter(Boolean);
  const start = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
  return start.split(/\s+/).filter((word) => word.startsWith('--'));
}

function listening(child: ChildProcess, onProbe: (p: Probe) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    // Both pipes are always drained: a full pipe would stall the server.
    child.stdout!.on('data', (chunk: Buffer) => {
      if (process.env.BENCH_SERVER_LOG) process.stdout.write(chunk);
      out += chunk.toString();
      const m = /listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m) {
        out = out.slice(m.index + m[0].length);
        resolve(m[1]!);
      }
      // Probe answers (server-probe.mjs): one line each.
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('{"benchProbe":')) onProbe((JSON.parse(line) as { benchProbe: Probe }).benchProbe);
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
