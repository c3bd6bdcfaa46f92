/**
 * Open mode (no KEYSYNC_ADMIN_TOKEN) only on loopback: the process refuses
 * any other HOST with one line saying why; with a token it listens anywhere
 * and refuses requests without one.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { exitWithin, spawnServer, tempDir, type ServerProcess } from '../support/process.js';

const dirs: string[] = [];
const procs: ServerProcess[] = [];
const dir = () => {
  const d = tempDir('keysync-open-');
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const start = (env: Record<string, string>) => {
  const p = spawnServer({ KEYSYNC_DATA_DIR: dir(), ...env });
  procs.push(p);
  return p;
};
const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');

describe('open mode', () => {
  it.each(['0.0.0.0', '::', '10.1.2.3', 'keysync.example.com'])('refuses to start without a token on HOST=%s, in one line naming the cause', async (host) => {
    const p = start({ HOST: host });
    const code = await exitWithin(p, 15_000);
    expect(code).toBe(1);
    const err = lines(p.stderr());
    expect(err, p.stderr()).toHaveLength(1);
    expect(err[0]).toMatch(/KEYSYNC_ADMIN_TOKEN/);
    expect(err[0]).toContain(host);
    expect(p.stdout()).not.toMatch(/listening/);
  });

  // Open on loopback is how every other process test starts the server (test/support/process.ts).
  it('starts with a token on any HOST, where requests without it get 401', async () => {
    const TOKEN = 'open-mode-test-admin-token-0123456789';
    const guarded = start({ HOST: '0.0.0.0', KEYSYNC_ADMIN_TOKEN: TOKEN });
    const local = (await guarded.listening).replace('0.0.0.0', '127.0.0.1');
    expect(guarded.stdout()).toMatch(/"auth":"tokens"/);
    const denied = await fetch(`${local}/v1/stores`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await fetch(`${local}/v1/stores`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    guarded.kill('SIGTERM');
    expect(await exitWithin(guarded, 15_000)).toBe(0);
  }, 60_000);
});
