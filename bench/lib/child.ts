/**
 * Helper processes of the bench (sync client, subscribers) run as forked
 * node children and talk over the IPC channel: the parent sends a command,
 * the child answers with one message.
 *
 * A child runs as an application ships the client: plain JavaScript, here an
 * esbuild bundle of its script (the client's sources included, native
 * packages left to node_modules), not through tsx. tsx's loader runs on a
 * thread of its own, which added 31 MB to each child's RSS (88 MB against
 * 57 MB with the FileStore and SyncClient loaded): memory no replica in
 * production pays, and the durable store's RSS target counts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { procStats, type ProcStats } from './proc.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Inside the repository, so that the packages left out of a bundle resolve from its node_modules. */
const BUNDLE_DIR = join(REPO_ROOT, 'node_modules/.cache/keysync-bench');
/** Native addons cannot be bundled. */
const EXTERNAL = ['lmdb'];
const bundles = new Map<string, string>();

/**
 * The child script bundled once per bench process. Children import the
 * client as its users do (`@keysync/client`), bundled from its sources;
 * BENCH_CLIENT_ROOT=<checkout> takes them from another checkout instead
 * (before/after comparisons).
 */
function bundle(script: string): string {
  let out = bundles.get(script);
  if (out) return out;
  out = join(BUNDLE_DIR, script.replace(/\.ts$/, '.mjs'));
  mkdirSync(BUNDLE_DIR, { recursive: true });
  const other = process.env.BENCH_CLIENT_ROOT;
  buildSync({
    entryPoints: [fileURLToPath(new URL(`../workloads/${script}`, import.meta.url))],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The workspace packages from their sources, as tsx and the tests read them.
    conditions: ['keysync-source'],
    external: EXTERNAL,
    alias: other
      ? {
          '@keysync/client/file-store': join(other, 'clients/typescript/src/file-store.ts'),
          '@keysync/client': join(other, 'clients/typescript/src/index.ts'),
        }
      : {},
    // Bundled CommonJS modules that call require() get Node's.
    banner: { js: "import { createRequire as keysyncBenchRequire } from 'node:module'; const require = keysyncBenchRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  bundles.set(script, out);
  return out;
}

export interface Child {
  pid: number;
  /** sends `msg` and resolves with the child's next message */
  ask<T>(msg: unknown): Promise<T>;
  stats(): ProcStats;
  stop(): Promise<void>;
}

export function startChild(script: string, args: unknown, heapMB = 8192): Child {
  const child: ChildProcess = fork(bundle(script), [JSON.stringify(args)], {
    execArgv: [
      `--max-old-space-size=${heapMB}`,
      // KEYSYNC_BENCH_CHILD_PROF=<dir>: a V8 CPU profile of each helper process too (the client side of a workload).
      ...(process.env.KEYSYNC_BENCH_CHILD_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.KEYSYNC_BENCH_CHILD_PROF}`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let pending: { resolve(v: unknown): void; reject(e: Error): void } | undefined;
  child.on('message', (msg: { error?: string }) => {
    const p = pending;
    pending = undefined;
    if (msg && typeof msg === 'object' && msg.error) p?.reject(new Error(`${script}: ${msg.error}`));
    else p?.resolve(msg);
  });
  child.on('exit', (code) => pending?.reject(new Error(`${script} exited (${code})`)));
  return {
    pid: child.pid!,
    ask<T>(msg: unknown) {
      return new Promise<T>((resolve, reject) => {
        pending = { resolve: resolve as (v: unknown) => void, reject };
        child.send(msg as object);
      });
    },
    stats: () => procStats(child.pid!),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
