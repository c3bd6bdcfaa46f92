/**
 * The `keysync-mirror` CLI, spawned as its own process (from source, through
 * tsx) against a real server: the initial sync, live changes, a clean stop on
 * SIGINT, a restart that resumes from its saved state, `--prefix`, `--token`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileNames } from '../../clients/typescript/src/cli/file-names.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { json } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import { eventually } from './support.js';

const CLI = join(import.meta.dirname, '../../clients/typescript/src/cli/mirror.ts');
const ADMIN = 'admin-token-for-mirror-tests';
const auth = { authorization: `Bearer ${ADMIN}` };

let db: TestDatabase;
let server: TestServer;
const dirs: string[] = [];
const children: ChildProcess[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer(db, { adminToken: ADMIN });
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await server?.close();
  await db?.drop();
});

interface Mirror {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

function mirror(...args: string[]): Mirror {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keysync-mirror-'));
  dirs.push(dir);
  return dir;
}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await server.fetch(path, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  return res;
}

let counter = 0;
async function newStore(): Promise<string> {
  const res = await api('/v1/stores', json({ config: { scope: '00000000-0000-4000-8000-000000000000', mirror: ++counter } }));
  return ((await res.json()) as { storeId: string }).storeId;
}

const keyPath = (storeId: string, key: string) => `/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`;
const putJson = (storeId: string, key: string, value: unknown) => api(keyPath(storeId, key), json(value, { method: 'PUT' }));
const putBytes = (storeId: string, key: string, bytes: Uint8Array<ArrayBuffer>, type: string) =>
  api(keyPath(storeId, key), { method: 'PUT', body: bytes, headers: { 'content-type': type } });
const del = (storeId: string, key: string) => api(keyPath(storeId, key), { method: 'DELETE' });
/** Keys `.` and `..` cannot travel in a URL path (fetch resolves them as dot segments): write them through /writes. */
const write = (storeId: string, ops: unknown[]) => api(`/v1/stores/${storeId}/writes`, json({ ops }));

/** The mirror directory's key files (not the .keysync state), name -> content. */
async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    if (name === '.keysync') continue;
    out[name] = await readFile(join(dir, name), 'latin1');
  }
  return out;
}

const jsonFile = (key: string, value: unknown) => ({ [fileNames(key).json]: `${JSON.stringify(value, null, 2)}\n` });
const bytesFile = (key: string, bytes: Uint8Array) => ({ [fileNames(key).bytes]: Buffer.from(bytes).toString('latin1') });

describe('keysync-mirror', () => {
  it('mirrors a store into files, follows live changes, stops on SIGINT and resumes from its state', async () => {
    const storeId = await newStore();
    const long = `long/${'x'.repeat(1000)}`;
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]);
    await putJson(storeId, 'users/1', { name: 'Ada' });
    await putJson(storeId, 'a.json', 'a key that looks like a file name');
    await write(storeId, [{ op: 'put', key: '..', value: 'dots' }]);
    await putJson(storeId, 'ünï cödé', [1, 2]);
    await putJson(storeId, long, true);
    await putBytes(storeId, 'avatar.png', png, 'image/png');
    for (let i = 0; i < 40; i++) await putJson(storeId, `bulk/${i}`, i);
    const dir = await tmp();

    let m = mirror(server.url, storeId, dir, '--token', ADMIN, '--batch-size', '10');
    await eventually(() => expect(m.stderr()).toMatch(/in sync at rev 46 \(46 changes applied\)/), 20_000);
    const bulk = Object.assign({}, ...Array.from({ length: 40 }, (_, i) => jsonFile(`bulk/${i}`, i)));
    expect(await files(dir)).toEqual({
      ...jsonFile('users/1', { name: 'Ada' }),
      ...jsonFile('a.json', 'a key that looks like a file name'),
      ...jsonFile('..', 'dots'),
      ...jsonFile('ünï cödé', [1, 2]),
      ...jsonFile(long, true),
      ...bytesFile('avatar.png', png),
      ...bulk,
    });
    expect(fileNames('a.json').json).toBe('a%2Ejson.json');
    expect(fileNames(long).json.length).toBeLessThan(255);
    // No progress bar: stderr is a pipe here, not a terminal.
    expect(m.stderr()).not.toContain('\r');

    // Live: a change, a new key, a delete, and a value that turns from JSON into bytes.
    await putJson(storeId, 'users/1', { name: 'Ada Lovelace' });
    await putJson(storeId, 'users/2', { name: 'Grace' });
    await write(storeId, [{ op: 'delete', key: '..' }]);
    await putBytes(storeId, 'ünï cödé', new Uint8Array([1, 2]), 'application/octet-stream');
    const live = {
      ...jsonFile('users/1', { name: 'Ada Lovelace' }),
      ...jsonFile('users/2', { name: 'Grace' }),
      ...jsonFile('a.json', 'a key that looks like a file name'),
      ...bytesFile('ünï cödé', new Uint8Array([1, 2])),
      ...jsonFile(long, true),
      ...bytesFile('avatar.png', png),
      ...bulk,
    };
    await eventually(async () => expect(await files(dir)).toEqual(live));

    m.child.kill('SIGINT');
    expect(await m.exited).toBe(0);
    expect(m.stderr()).toContain('SIGINT: stopping');

    // Offline: two changes. The restarted mirror resumes with `since` and applies only those.
    await putJson(storeId, 'bulk/0', 'zero');
    await del(storeId, 'bulk/1');
    m = mirror(server.url, storeId, dir, '--token', ADMIN);
    await eventually(() => expect(m.stderr()).toMatch(/in sync at rev 52 \(2 changes applied\)/), 20_000);
    const { [fileNames('bulk/1').json]: _gone, ...rest } = live;
    expect(await files(dir)).toEqual({ ...rest, ...jsonFile('bulk/0', 'zero') });
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);

    // One directory, one store.
    const other = mirror(server.url, await newStore(), dir, '--token', ADMIN);
    expect(await other.exited).toBe(2);
    expect(other.stderr()).toContain(`mirrors store ${storeId}`);
  });

  it('mirrors only the keys under --prefix', async () => {
    const storeId = await newStore();
    await putJson(storeId, 'app/a', 1);
    await putJson(storeId, 'other/b', 2);
    const dir = await tmp();
    const m = mirror(server.url, storeId, dir, '--prefix', 'app/', '--token', ADMIN);
    await eventually(() => expect(m.stderr()).toContain('in sync'), 20_000);
    await putJson(storeId, 'app/c', 3);
    await putJson(storeId, 'other/d', 4);
    await eventually(async () => expect(await files(dir)).toEqual({ ...jsonFile('app/a', 1), ...jsonFile('app/c', 3) }));
    m.child.kill('SIGINT');
    expect(await m.exited).toBe(0);
  });

  it('exits with an error when the token is refused, and explains its usage', async () => {
    const storeId = await newStore();
    const refused = mirror(server.url, storeId, await tmp(), '--token', 'not-the-token');
    expect(await refused.exited).toBe(1);
    expect(refused.stderr()).toMatch(/error: .*401/);

    const usage = mirror(server.url);
    expect(await usage.exited).toBe(2);
    expect(usage.stderr()).toContain('usage: keysync-mirror <baseUrl> <storeId> <dir>');
  });

  it('never claims a directory for a store it could not reach: a mistyped id, then the right one', async () => {
    const storeId = await newStore();
    await putJson(storeId, 'a', 1);
    const dir = await tmp();
    const wrong = mirror(server.url, '00000000-0000-5000-8000-000000000000', dir, '--token', ADMIN);
    expect(await wrong.exited).toBe(1);
    expect(wrong.stderr()).toContain(`error: ${server.url}: `);
    expect(wrong.stderr()).toMatch(/404/);
    await expect(readFile(join(dir, '.keysync', 'mirror.json'), 'utf8')).rejects.toThrow();

    const right = mirror(server.url, storeId, dir, '--token', ADMIN);
    await eventually(() => expect(right.stderr()).toContain('in sync'), 20_000);
    expect(await files(dir)).toEqual(jsonFile('a', 1));
    expect(JSON.parse(await readFile(join(dir, '.keysync', 'mirror.json'), 'utf8'))).toEqual({ storeId, prefix: '' });
    right.child.kill('SIGINT');
    expect(await right.exited).toBe(0);
  });

  it('takes over a directory an older version pinned to another store before syncing anything', async () => {
    const storeId = await newStore();
    await putJson(storeId, 'b', 2);
    const dir = await tmp();
    await mkdir(join(dir, '.keysync'), { recursive: true });
    await writeFile(join(dir, '.keysync', 'mirror.json'), JSON.stringify({ storeId: '00000000-0000-5000-8000-000000000000', prefix: '' }));
    const m = mirror(server.url, storeId, dir, '--token', ADMIN);
    await eventually(() => expect(m.stderr()).toContain('in sync'), 20_000);
    expect(await files(dir)).toEqual(jsonFile('b', 2));
    m.child.kill('SIGINT');
    expect(await m.exited).toBe(0);
  });

  it('names the URL and the cause while no server answers, and claims nothing', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    const dir = await tmp();
    const m = mirror(url, await newStore(), dir);
    await eventually(() => expect(m.stderr()).toContain(`reconnecting to ${url}: fetch failed (ECONNREFUSED 127.0.0.1:${port})`), 20_000);
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);
    await expect(readFile(join(dir, '.keysync', 'mirror.json'), 'utf8')).rejects.toThrow();
  });
});
