/**
 * Helper processes of the bench (sync client, subscribers) run as forked
 * `node --import tsx` children and talk over the IPC channel: the parent
 * sends a command, the child answers with one message.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { procStats, type ProcStats } from './proc.js';

export interface Child {
  pid: number;
  /** sends `msg` and resolves with the child's next message */
  ask<T>(msg: unknown): Promise<T>;
  stats(): ProcStats;
  stop(): Promise<void>;
}

export function startChild(script: string, args: unknown, heapMB = 8192): Child {
  const path = fileURLToPath(new URL(`../workloads/${script}`, import.meta.url));
  const child: ChildProcess = fork(path, [JSON.stringify(args)], {
    execArgv: [
      '--import',
      'tsx',
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

/** The child side: answers each command with `handler`'s result (or `{error}`). */
export function serveCommands(handler: (msg: any) => Promise<unknown>): void {
  process.on('message', (msg) => {
    handler(msg).then(
      (result) => process.send!(result ?? {}),
      (err: unknown) => process.send!({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  process.on('SIGTERM', () => process.exit(0));
}

export const childArgs = <T>(): T => JSON.parse(process.argv[2] ?? '{}') as T;
