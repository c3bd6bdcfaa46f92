/**
 * Graceful shutdown under load: SIGTERM to the real server process while 100
 * live subscribers follow a store and 8 writers stream writes. The process
 * must exit 0, every feed must end cleanly (a finished response, not a cut
 * connection), and after a restart on the same data every acknowledged
 * write is there with its rev and ts, and every subscriber, resuming with
 * its Last-Event-ID, gets every acknowledged write exactly at its rev.
 *
 * Runs on PostgreSQL when TEST_DATABASE_URL is set (a fresh database), else
 * on a PGlite data folder.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { exitWithin, spawnServer, tempDir, type ServerProcess } from '../support/process.js';
import { openFeed, type Feed } from '../support/sse.js';
import { listAll, streamWrites } from './writers.js';

const SUBSCRIBERS = 100;
const PG_URL = process.env.TEST_DATABASE_URL;
const procs: ServerProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const c of cleanups.reverse()) await c();
});

async function dataEnv(): Promise<Record<string, string>> {
  if (PG_URL) {
    const name = `keysync_shutdown_${randomBytes(5).toString('hex')}`;
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    cleanups.push(async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    });
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    return { DATABASE_URL: url.toString() };
  }
  const dir = tempDir('keysync-shutdown-');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { KEYSYNC_DATA_DIR: dir };
}

async function start(env: Record<string, string>) {
  const proc = spawnServer({ ...env, KEYSYNC_HEARTBEAT_MS: '1000' });
  procs.push(proc);
  return { proc, url: await proc.listening };
}

describe(`graceful shutdown under load (${PG_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  it(`SIGTERM with ${SUBSCRIBERS} live subscribers and 8 writers: exit 0, every feed ends cleanly, no acknowledged write lost`, async () => {
    const env = await dataEnv();
    const first = await start(env);
    const reg = await fetch(`${first.url}/v1/stores`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ config: { scope: '00000000-0000-4000-8000-00000000d0d0', name: `shutdown-${Math.random()}` } }),
    });
    expect(reg.status).toBe(201);
    const { storeId } = (await reg.json()) as { storeId: string };

    const feeds: Feed[] = [];
    for (let i = 0; i < SUBSCRIBERS; i++) feeds.push(await openFeed(first.url, storeId, '?since=0'));
    expect(feeds.every((f) => f.status === 200)).toBe(true);
    await Promise.all(feeds.map((f) => f.waitFor(() => f.events.some((e) => e.event === 'ready'))));

    const writes = streamWrites(first.url, storeId, { writers: 8 });
    const deadline = Date.now() + 20_000;
    while (writes.acked.length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const termAt = performance.now();
    first.proc.kill('SIGTERM');
    const code = await exitWithin(first.proc, 20_000);
    const exitMs = performance.now() - termAt;
    await writes.stop();
    expect(code).toBe(0);
    // Well before index.ts's 10 s force timeout: busy keep-alive connections were drained, not cut.
    expect(exitMs).toBeLessThan(5000);

    // Every feed ended by the server finishing its response.
    const ends = await Promise.all(feeds.map((f) => f.ended));
    const unclean = ends.filter((e) => e !== 'clean');
    expect(unclean).toEqual([]);

    // Restart on the same data: every acknowledged write is there with its rev and ts.
    const second = await start(env);
    const listed = await listAll(second.url, storeId);
    const missing = writes.acked.filter((w) => listed.get(w.key)?.rev !== w.rev || listed.get(w.key)?.ts !== w.ts);
    expect(missing).toEqual([]);

    // Every subscriber resumes from its Last-Event-ID and ends up with every acknowledged write.
    const want = new Map(writes.acked.map((w) => [w.key, w.rev]));
    const head = Math.max(...[...listed.values()].map((m) => m.rev));
    let resumedFromBacklog = 0;
    for (let i = 0; i < feeds.length; i += 25) {
      await Promise.all(
        feeds.slice(i, i + 25).map(async (before) => {
          const ids = before.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
          for (let j = 1; j < ids.length; j++) expect(ids[j]!).toBeGreaterThan(ids[j - 1]!);
          const after = await openFeed(second.url, storeId, '', { headers: { 'last-event-id': before.lastId ?? '0' } });
          await after.waitFor(() => after.events.some((e) => e.event === 'ready'));
          after.close();
          await after.ended;
          resumedFromBacklog += after.events.filter((e) => e.event === 'put').length;
          const got = new Map<string, number>();
          for (const e of [...before.events, ...after.events]) if (e.event === 'put') got.set(e.data.key, e.data.rev);
          const lost = [...want].filter(([key, rev]) => got.get(key) !== rev);
          expect(lost).toEqual([]);
          expect(Math.max(...got.values())).toBe(head);
        }),
      );
    }
    console.log(
      `shutdown: exit ${code} ${Math.round(exitMs)} ms after SIGTERM; ${writes.acked.length} acked writes kept, ${writes.unanswered.length} unanswered; ` +
        `refused ${JSON.stringify([...writes.refused])}; ${SUBSCRIBERS} feeds ended cleanly; ${resumedFromBacklog} events caught up from Last-Event-ID after restart`,
    );
    second.proc.kill('SIGTERM');
    expect(await exitWithin(second.proc, 15_000)).toBe(0);
  }, 60_000);
});
