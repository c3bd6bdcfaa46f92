/**
 * The real server process (`node --import tsx src/index.ts`) for tests of
 * start-up, the data-folder lock and graceful shutdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const tempDir = (name = 'keysync-') => mkdtempSync(join(tmpdir(), name));

export interface ServerProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves with the base URL once the process logs that it listens */
  listening: Promise<string>;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts the server process with a clean environment plus `env` (PORT 0 and loopback unless given). */
export function spawnServer(env: Record<string, string | undefined>): ServerProcess {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(KEYSYNC_|DATABASE_URL$|TEST_DATABASE_URL$|PORT$|HOST$)/.test(k)) continue;
    clean[k] = v;
  }
  const merged: Record<string, string> = { ...clean, PORT: '0', HOST: '127.0.0.1', KEYSYNC_LOG: 'off' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], { cwd: REPO_ROOT, env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${err}`)));
  });
  listening.catch(() => {});
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    listening,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Waits for the exit, killing the process (SIGKILL) if it has not exited within `ms`. */
export async function exitWithin(proc: ServerProcess, ms: number): Promise<number | string> {
  const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}
