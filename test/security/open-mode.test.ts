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
const lines = (text: string) => text.trim().split('\n').filter((l) => l.trim() !== '');

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

  it('starts open on a loopback HOST, and with a token on any HOST (where requests without it get 401)', async () => {
    const open = start({ HOST: '127.0.0.2' });
    const TOKEN = 'open-mode-test-admin-token-0123456789';
    const guarded = start({ HOST: '0.0.0.0', KEYSYNC_ADMIN_TOKEN: TOKEN });
    const [openUrl, guardedUrl] = await Promise.all([open.listening, guarded.listening]);
    expect(open.stdout()).toMatch(/open \(loopback only\)/);
    expect((await fetch(`${openUrl}/v1/stores`)).status).toBe(200);
    const local = guardedUrl.replace('0.0.0.0', '127.0.0.1');
    const denied = await fetch(`${local}/v1/stores`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await fetch(`${local}/v1/stores`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    for (const p of [open, guarded]) {
      p.kill('SIGTERM');
      expect(await exitWithin(p, 15_000)).toBe(0);
    }
  }, 60_000);
});
