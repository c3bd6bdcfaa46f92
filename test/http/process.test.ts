import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir } from '../../src/db/lock.js';
import { exitWithin, spawnServer, tempDir, type ServerProcess } from '../support/process.js';
import { openFeed } from '../support/sse.js';

const dirs: string[] = [];
const dir = () => {
  const d = tempDir('keysync-proc-');
  dirs.push(d);
  return d;
};
const running: ServerProcess[] = [];
afterAll(async () => {
  for (const proc of running) {
    proc.kill('SIGKILL');
    await proc.exited;
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(env: Record<string, string>): ServerProcess {
  const proc = spawnServer(env);
  running.push(proc);
  return proc;
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('the data-folder lock', () => {
  it('refuses a second lock of the same folder in one process, naming the folder', () => {
    const d = dir();
    const release = lockDataDir(d);
    try {
      expect(() => lockDataDir(d)).toThrow(DataDirLockedError);
      expect(() => lockDataDir(d)).toThrow(d);
    } finally {
      release();
    }
    const again = lockDataDir(d);
    again();
  });

  it('takes over a stale lock file left by a process that is gone', () => {
    const d = dir();
    const pid = deadPid();
    expect(pid).toBeGreaterThan(0);
    writeFileSync(join(d, 'keysync.lock'), String(pid));
    const release = lockDataDir(d);
    expect(readFileSync(join(d, 'keysync.lock'), 'utf8').trim()).toBe(String(process.pid));
    expect(() => lockDataDir(d)).toThrow(DataDirLockedError);
    release();
  });

  it('takes over a lock file with garbage in it', () => {
    const d = dir();
    writeFileSync(join(d, 'keysync.lock'), 'not a pid');
    const release = lockDataDir(d);
    expect(readFileSync(join(d, 'keysync.lock'), 'utf8').trim()).toBe(String(process.pid));
    release();
  });

  it('refuses a folder locked by a live process', () => {
    const d = dir();
    writeFileSync(join(d, 'keysync.lock'), String(process.ppid));
    expect(() => lockDataDir(d)).toThrow(DataDirLockedError);
  });
});

describe('the server process', () => {
  let folder: string;
  let first: ServerProcess;
  let url: string;
  beforeAll(async () => {
    folder = dir();
    first = start({ KEYSYNC_DATA_DIR: folder });
    url = await first.listening;
  }, 60_000);

  it('refuses a second server on the same data folder with one line naming the folder', async () => {
    const second = start({ KEYSYNC_DATA_DIR: folder });
    const code = await exitWithin(second, 20_000);
    expect(code).not.toBe(0);
    expect(typeof code).toBe('number');
    const lines = second
      .stderr()
      .trim()
      .split('\n')
      .filter((l) => l.trim());
    expect(lines, second.stderr()).toHaveLength(1);
    expect(lines[0]).toContain(folder);
    expect(second.stdout()).not.toMatch(/listening/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('shuts down on SIGTERM keeping every acknowledged write and ending live feeds cleanly', async () => {
    const reg = await fetch(`${url}/v1/stores`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ config: { scope: '00000000-0000-4000-8000-000000000000', name: 'shutdown' } }),
    });
    expect(reg.status).toBe(201);
    const storeId = ((await reg.json()) as { storeId: string }).storeId;

    // The reader tells a clean end (the server finished the response) from a broken stream.
    const feed = await openFeed(url, storeId);
    expect(feed.status).toBe(200);
    await feed.waitFor(({ events }) => events.some((e) => e.event === 'ready'), 5000);

    const acknowledged = new Map<string, unknown>();
    const failures: string[] = [];
    let attempts = 0;
    let signalled: () => void;
    const signalledAt = new Promise<void>((resolve) => (signalled = resolve));
    const writer = async (w: number) => {
      for (let i = 0; ; i++) {
        const key = `w${w}/k${i}`;
        const value = { w, i, pad: 'x'.repeat(100) };
        attempts++;
        let res: Response;
        try {
          res = await fetch(`${url}/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(value),
          });
          await res.arrayBuffer();
        } catch {
          return; // connection refused or reset: the server is gone
        }
        if (res.ok) acknowledged.set(key, value);
        else if (res.status >= 500 && res.status !== 503) failures.push(`${key}: ${res.status}`);
        if (acknowledged.size === 60) signalled();
        if (!res.ok) return;
      }
    };
    const writers = Promise.all([0, 1, 2, 3].map(writer));
    await signalledAt;
    first.kill('SIGTERM');
    const code = await exitWithin(first, 20_000);
    await writers;
    expect(code).toBe(0);
    expect(failures).toEqual([]);
    expect(acknowledged.size).toBeGreaterThanOrEqual(60);

    expect(await feed.ended).toBe('clean');
    const events = feed.frames.flatMap((f) => (f.event === undefined ? [] : [f.event]));
    expect(events.filter((e) => e !== 'put' && e !== 'ready')).toEqual([]);
    const ids = feed.frames.flatMap((f) => (f.id === undefined ? [] : [Number(f.id)]));
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThanOrEqual(ids[i - 1]!);

    const restarted = start({ KEYSYNC_DATA_DIR: folder });
    const url2 = await restarted.listening;
    const lost: string[] = [];
    for (const [key, value] of acknowledged) {
      const res = await fetch(`${url2}/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`);
      if (res.status !== 200) lost.push(`${key}: ${res.status}`);
      else expect(await res.json()).toEqual(value);
    }
    expect(lost).toEqual([]);
    const store = (await (await fetch(`${url2}/v1/stores/${storeId}`)).json()) as { headRev: number };
    expect(store.headRev).toBeGreaterThanOrEqual(acknowledged.size);
    expect(store.headRev).toBeLessThanOrEqual(attempts);
    restarted.kill('SIGTERM');
    expect(await exitWithin(restarted, 20_000)).toBe(0);
  }, 60_000);
});
