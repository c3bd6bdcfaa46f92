/**
 * Crash safety: the real server process is killed with SIGKILL in the middle
 * of a stream of writes, then started again on the same data. Every write
 * that was answered 2xx must be there with its rev and ts; writes whose
 * answer never came are all-or-nothing; revs are gap-free and continue
 * without reuse.
 *
 * PostgreSQL: a fresh database on TEST_DATABASE_URL's server. PGlite: a data
 * folder; PGlite runs with fsync=off and its Node file system has no fsync,
 * so this proves durability across a process crash (every commit's WAL has
 * reached the kernel), not across an OS crash or power loss.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { exitWithin, spawnServer, tempDir, type ServerProcess } from '../support/process.js';
import { listAll, streamWrites, type WriteStream } from './writers.js';

const PG_URL = process.env.TEST_DATABASE_URL;
const started: ServerProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const p of started) p.kill('SIGKILL');
  for (const c of cleanups.reverse()) await c();
});

async function start(env: Record<string, string>): Promise<{ proc: ServerProcess; url: string }> {
  const proc = spawnServer(env);
  started.push(proc);
  return { proc, url: await proc.listening };
}

async function registerStore(url: string): Promise<string> {
  const res = await fetch(`${url}/v1/stores`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ config: { scope: '00000000-0000-4000-8000-0000000c0a5e', name: `crash-${Math.random()}` } }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { storeId: string }).storeId;
}

/** Streams writes for a while, then SIGKILLs the server while they are in flight. */
async function killMidStream(proc: ServerProcess, url: string, storeId: string): Promise<WriteStream> {
  const writes = streamWrites(url, storeId, { writers: 8 });
  // Kill only once a good number of writes is acknowledged, at a moment no test code chose.
  const deadline = Date.now() + 20_000;
  while (writes.acked.length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, Math.random() * 200));
  proc.kill('SIGKILL');
  expect(await exitWithin(proc, 10_000)).toBe('SIGKILL');
  await writes.stop();
  return writes;
}

async function checkRecovered(url: string, storeId: string, writes: WriteStream) {
  const store = (await (await fetch(`${url}/v1/stores/${storeId}`)).json()) as { headRev: number };
  const listed = await listAll(url, storeId);

  // Every acknowledged write is there, with the rev and ts it was given, and its value.
  const missing = writes.acked.filter((w) => {
    const got = listed.get(w.key);
    return !got || got.rev !== w.rev || got.ts !== w.ts;
  });
  expect(missing).toEqual([]);
  for (const w of writes.acked.filter((_, i) => i % 10 === 0)) {
    const res = await fetch(`${url}/v1/stores/${storeId}/keys/${encodeURIComponent(w.key)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-keysync-rev')).toBe(String(w.rev));
    expect(res.headers.get('x-keysync-ts')).toBe(w.ts);
    expect(await res.json()).toEqual(w.value);
  }

  // Unanswered writes: all of their keys or none (a bulk write is atomic), never half.
  for (const keys of writes.unanswered) {
    const present = keys.filter((k) => listed.has(k)).length;
    expect([0, keys.length], keys.join(',')).toContain(present);
  }

  // Revs are exactly 1..headRev, each once, and ts grows with rev.
  const byRev = [...listed.values()].sort((a, b) => a.rev - b.rev);
  expect(byRev.map((m) => m.rev)).toEqual(Array.from({ length: store.headRev }, (_, i) => i + 1));
  for (let i = 1; i < byRev.length; i++) expect(byRev[i]!.ts > byRev[i - 1]!.ts).toBe(true);
  const maxAcked = Math.max(...writes.acked.map((w) => w.rev));
  expect(store.headRev).toBeGreaterThanOrEqual(maxAcked);

  // The next write continues after the head: no rev is handed out twice.
  const next = await fetch(`${url}/v1/stores/${storeId}/keys/after-restart`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '1' });
  expect(next.status).toBe(200);
  const after = (await next.json()) as { rev: number; ts: string };
  expect(after.rev).toBe(store.headRev + 1);
  expect(after.ts > byRev.at(-1)!.ts).toBe(true);
  return { acked: writes.acked.length, unanswered: writes.unanswered.length, headRev: store.headRev, maxAcked };
}

describe.skipIf(!PG_URL)(`crash safety on PostgreSQL${PG_URL ? '' : ' (skipped: TEST_DATABASE_URL is unset)'}`, () => {
  it('keeps every acknowledged write across SIGKILL mid-stream, with its rev and ts; revs continue without reuse', async () => {
    const name = `keysync_crash_${randomBytes(5).toString('hex')}`;
    const admin = postgres(PG_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    cleanups.push(async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    });
    const dbUrl = new URL(PG_URL!);
    dbUrl.pathname = `/${name}`;
    const env = { DATABASE_URL: dbUrl.toString() };

    const first = await start(env);
    const storeId = await registerStore(first.url);
    const writes = await killMidStream(first.proc, first.url, storeId);
    const second = await start(env);
    const figures = await checkRecovered(second.url, storeId, writes);
    console.log(`crash (PostgreSQL): ${JSON.stringify(figures)}`);
    second.proc.kill('SIGTERM');
    await exitWithin(second.proc, 15_000);
  }, 60_000);
});

describe('crash safety on embedded PGlite (process crash; the data folder has no fsync)', () => {
  it('keeps every acknowledged write across SIGKILL mid-stream, with its rev and ts; the folder reopens after the stale lock', async () => {
    const dir = tempDir('keysync-crash-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { KEYSYNC_DATA_DIR: dir };
    const first = await start(env);
    const storeId = await registerStore(first.url);
    const writes = await killMidStream(first.proc, first.url, storeId);
    const second = await start(env); // takes over the lock file the killed process left
    const figures = await checkRecovered(second.url, storeId, writes);
    console.log(`crash (PGlite): ${JSON.stringify(figures)}`);
    second.proc.kill('SIGTERM');
    expect(await exitWithin(second.proc, 15_000)).toBe(0);
  }, 60_000);
});
