/**
 * A private PostgreSQL cluster for tests that stop the database: its own
 * data folder (under /tmp) and port, owned by the `postgres` user, started
 * and stopped with pg_ctl. The machine's shared cluster is never touched.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const execFileAsync = promisify(execFile);
/** Runs a shell command as the postgres user without blocking the event loop (in-process servers keep serving). */
const asPostgresAsync = async (cmd: string) => {
  const isRoot = process.getuid?.() === 0;
  await (isRoot ? execFileAsync('su', ['postgres', '-c', cmd]) : execFileAsync('sh', ['-c', cmd]));
};

const asPostgres = (cmd: string) => {
  const isRoot = process.getuid?.() === 0;
  return isRoot ? spawnSync('su', ['postgres', '-c', cmd], { encoding: 'utf8' }) : spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
};

export interface PrivateCluster {
  url: string;
  port: number;
  dir: string;
  start(): Promise<void>;
  /** `fast`: disconnects clients (they see 57P01 admin_shutdown), then stops */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  destroy(): void;
}

export async function createPrivateCluster(): Promise<PrivateCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql');
  const base = mkdtempSync(join(tmpdir(), 'keysync-pg-'));
  chmodSync(base, 0o777);
  const dir = join(base, 'data');
  const port = await freePort();
  const run = (cmd: string) => {
    const r = asPostgres(cmd);
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr || r.stdout}`);
  };
  run(`${bin}/initdb -D ${dir} -A trust -U postgres --no-sync >/dev/null`);
  // Own port, TCP on loopback only, socket in the private folder, small footprint.
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${base} -c max_connections=50 -c shared_buffers=16MB -c fsync=on`;
  const cluster: PrivateCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start: () => asPostgresAsync(`${bin}/pg_ctl -D ${dir} -o "${opts}" -l ${base}/log -w -t 30 start >/dev/null`),
    stop: (mode = 'fast') => asPostgresAsync(`${bin}/pg_ctl -D ${dir} -m ${mode} -w -t 30 stop >/dev/null`),
    destroy() {
      if (existsSync(join(dir, 'postmaster.pid'))) asPostgres(`${bin}/pg_ctl -D ${dir} -m immediate -w -t 30 stop`);
      rmSync(base, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}

/** True when the `postgres` user and binaries are there (we can run a private cluster). */
export function canRunPrivateCluster(): boolean {
  if (!postgresBinDir()) return false;
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
