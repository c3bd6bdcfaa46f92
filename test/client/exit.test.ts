/**
 * A Node process that used the client exits as soon as `unsubscribe()` and
 * `store.close()` resolve: no socket, timer or file handle of the client keeps
 * it alive (an idle keep-alive socket would hold it for seconds).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, json, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/exit-after-close.ts');
// Generous for a loaded CI machine, and still far below the seconds a held socket costs.
const EXIT_BUDGET_MS = 1500;

const env = useTestServer();
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Runs the fixture and returns the ms between its `closed` line and its exit. */
async function exitDelay(baseUrl: string, storeId: string, when: string, kind: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'keysync-exit-'));
  dirs.push(dir);
  const child = spawn(process.execPath, ['--conditions=keysync-source', '--import', 'tsx', FIXTURE, baseUrl, storeId, when, kind, dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let closedAt: number | undefined;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (closedAt === undefined && out.includes('closed')) closedAt = performance.now();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(killer);
  const exitedAt = performance.now();
  expect(code, out).toBe(0);
  expect(closedAt, out).toBeDefined();
  return exitedAt - closedAt!;
}

describe('a process using the client', () => {
  let storeId: string;
  it('has a store with data to sync', async () => {
    const res = await call(env.server, '/v1/stores', json({ config: { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', name: 'exit' } }));
    storeId = res.body.storeId;
    for (let i = 0; i < 5; i++) await put(env.server, storeId, `k${i}`, { i });
  });

  for (const [when, kind] of [
    ['live', 'memory'],
    ['live', 'file'],
    ['complete', 'memory'],
  ] as const) {
    it(`exits promptly after unsubscribe and close (${when}, ${kind} store)`, async () => {
      const ms = await exitDelay(env.server.url, storeId, when, kind);
      expect(ms).toBeLessThan(EXIT_BUDGET_MS);
    });
  }

  it('exits promptly after unsubscribe while reconnecting to a server that is not there', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const ms = await exitDelay(`http://127.0.0.1:${port}`, storeId, 'reconnecting', 'memory');
    expect(ms).toBeLessThan(EXIT_BUDGET_MS);
  });
});
