/**
 * examples/python/replica.py (standard library only) against the real
 * server, with the machine's python3: store id from the config (JCS +
 * UUIDv5), a `have` handshake, batches acknowledged after they are saved,
 * JSON and byte values, the live feed, a dropped feed resumed with
 * Last-Event-ID, and a restart that resumes with `since` (its one batch
 * inside the handshake's answer).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storeId } from '@keysync/protocol';
import { eventually } from '../client/support.js';
import { call, json, keyPath, put } from '../support/http.js';
import { REPO_ROOT } from '../support/process.js';
import { useTestServer } from '../support/server.js';

const SCRIPT = join(REPO_ROOT, 'examples/python/replica.py');
const env = useTestServer({ limits: { batchSize: 2 } });
const dir = mkdtempSync(join(tmpdir(), 'keysync-python-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

// Numbers, nesting, non-ASCII and key order: the Python JCS must match the server's.
const config = { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', name: 'python ✓', n: [1, 1.5, 1e21, 0.001], z: { b: 1, a: 'é' } };
const BYTES = new Uint8Array([0, 1, 2, 0x80, 0xfe, 0xff, 0x0a, 0x0d]);
const state = join(dir, 'state.json');

function replica(...extra: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn('python3', [SCRIPT, env.server.url, '--config', JSON.stringify(config), '--state', state, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, out: () => out, exited };
}

interface Saved {
  checkpoint: number;
  lastEventId: string | null;
  records: Record<string, { rev: number; value?: unknown; base64?: string; contentType?: string; deleted?: boolean }>;
}
const saved = (): Saved => JSON.parse(readFileSync(state, 'utf8')) as Saved;

describe('examples/python/replica.py', () => {
  it('computes the store id the server derives from the config', async () => {
    const res = await call(env.server, '/v1/stores', json({ config }));
    expect(res.status).toBe(201);
    const printed = spawnSync('python3', [SCRIPT, 'http://unused', '--config', JSON.stringify(config), '--print-store-id'], { encoding: 'utf8' });
    expect(printed.stdout.trim()).toBe(res.body.storeId);
    expect(res.body.storeId).toBe(storeId(config));
  });

  it('syncs JSON and bytes, follows the feed, resumes a dropped feed with Last-Event-ID', async () => {
    const id = storeId(config);
    await put(env.server, id, 'users/1', { name: 'Ada' });
    await put(env.server, id, 'users/2', { name: 'Grace', n: 1.5 });
    expect((await env.server.fetch(keyPath(id, 'avatar'), { method: 'PUT', body: BYTES, headers: { 'content-type': 'image/png' } })).status).toBe(200);
    await put(env.server, id, 'gone', 1);
    expect((await env.server.fetch(keyPath(id, 'gone'), { method: 'DELETE' })).status).toBe(200);

    // Batches of 2 keys: fetched and acknowledged one by one.
    const r = replica('--exit-after', '3', '--batch-size', '2');
    await eventually(() => expect(r.out()).toContain('live'), 30_000);
    expect(r.out()).toMatch(/in sync at rev 5 \(have handshake: 3 stale in 2 batches, 3 applied, 0 removed\)/);

    await put(env.server, id, 'live/1', { at: 'first' });
    await eventually(() => expect(r.out()).toContain('put live/1 rev 6'), 20_000);

    // Drop every connection: the replica reconnects with the last event id it saved.
    await env.server.restart();
    await eventually(() => expect(r.out()).toMatch(/reconnecting in .* \(Last-Event-ID: \d+\)/), 20_000);
    await put(env.server, id, 'live/2', [1, 2, 3]);
    expect((await env.server.fetch(keyPath(id, 'users/1'), { method: 'DELETE' })).status).toBe(200);
    await eventually(() => expect(r.out()).toContain('delete users/1 rev 8'), 30_000);
    expect(await r.exited).toBe(0);
    expect(r.out()).toContain('put live/2 rev 7 [1, 2, 3]');

    const s = saved();
    expect(s.checkpoint).toBe(8);
    expect(s.lastEventId).toBe('8');
    expect(s.records['users/2']).toMatchObject({ rev: 2, value: { name: 'Grace', n: 1.5 } });
    expect(s.records['avatar']).toMatchObject({ rev: 3, contentType: 'image/png' });
    expect(new Uint8Array(Buffer.from(s.records['avatar']!.base64!, 'base64'))).toEqual(BYTES);
    expect(s.records['users/1']).toMatchObject({ rev: 8, deleted: true });
    expect(s.records['gone']).toBeUndefined();
  });

  it('restarts with a `since` handshake that moves only what changed while it was away', async () => {
    const id = storeId(config);
    await put(env.server, id, 'offline', { while: 'away' });
    const r = replica('--exit-after', '1');
    await eventually(() => expect(r.out()).toContain('live'), 30_000);
    // One batch: inside the handshake's answer.
    expect(r.out()).toMatch(/in sync at rev 9 \(since handshake: 1 stale in 1 batch inline, 1 applied, 0 removed\)/);
    await put(env.server, id, 'after', true);
    expect(await r.exited).toBe(0);
    expect(saved().records['after']).toMatchObject({ rev: 10, value: true });
    expect(saved().records['offline']).toMatchObject({ rev: 9, value: { while: 'away' } });
  });
});
