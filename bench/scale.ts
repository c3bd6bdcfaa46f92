/**
 * Load run of several instances behind nginx (not CI): `npx tsx bench/scale.ts`.
 *
 * Two keysync processes on one fresh PostgreSQL database behind a real nginx
 * (deploy/nginx.conf.template); live subscribers spread over stores, connected
 * through nginx (so over both instances); writes at a fixed rate through
 * nginx; in the middle one instance is killed (SIGKILL) and started again on
 * the same port. Reports delivered / expected events (every answered write
 * must reach every subscriber of its store), write -> event latency, how long
 * the feeds of the killed instance took to be live again, and each
 * instance's CPU and memory. Writes results to bench/results/scale.{json,md}
 * (SCALE_OUT: another path, without the extension).
 *
 * Options (environment): SCALE_SUBSCRIBERS (1000), SCALE_STORES (100),
 * SCALE_RATE (writes/s, 500), SCALE_SECONDS (60), SCALE_INSTANCES (2),
 * SCALE_CHILDREN (subscriber processes, 2),
 * BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres: a database
 * is created on that server and dropped afterwards).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort, startNginx } from '../test/scale/nginx.js';
import { startChild, type Child } from './lib/child.js';
import { sample, busyCores } from './lib/machine-load.js';
import { procStats } from './lib/proc.js';
import { REPO_ROOT } from './lib/server.js';
import { clock, round, sleep, summarize } from './lib/stats.js';

const num = (name: string, d: number) => Number(process.env[name] ?? d);
const SUBSCRIBERS = num('SCALE_SUBSCRIBERS', 1000);
const STORES = num('SCALE_STORES', 100);
const RATE = num('SCALE_RATE', 500);
const SECONDS = num('SCALE_SECONDS', 60);
const INSTANCES = num('SCALE_INSTANCES', 2);
const CHILDREN = num('SCALE_CHILDREN', 2);
/** writes in flight at most */
const MAX_IN_FLIGHT = 500;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ADMIN = 'admin-token-for-the-scale-bench-0123';
const auth = { authorization: `Bearer ${ADMIN}` };

interface Instance {
  port: number;
  child: ChildProcess;
  /** CPU seconds and peak RSS of earlier lives of this instance (it is restarted once) */
  cpuBefore: number;
  peakMB: number;
  /** CPU seconds of the current process when the writes started (0 for a process started later) */
  cpuStart: number;
}

function spawnInstance(port: number, databaseUrl: string): Promise<ChildProcess> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(KEYSYNC_|DATABASE_URL$|PORT$|HOST$)/.test(k)) env[k] = v;
  Object.assign(env, {
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    KEYSYNC_ADMIN_TOKEN: ADMIN,
    KEYSYNC_LOG: 'off',
    KEYSYNC_RATE_LIMIT: '0',
    KEYSYNC_TRUSTED_PROXIES: '127.0.0.1',
    KEYSYNC_MAX_SUBSCRIBERS: '100000',
    KEYSYNC_MAX_SUBSCRIBERS_PER_STORE: '100000',
    KEYSYNC_MAX_SUBSCRIBERS_PER_CLIENT: '100000',
  });
  const child = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, '--import', 'tsx', 'src/index.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => process.stderr.write(c));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('listening on')) resolve(child);
      if (out.length > 10_000) out = out.slice(-1000);
    });
    child.once('exit', (code) => reject(new Error(`instance exited (${code}) before listening`)));
  });
}

async function main(): Promise<void> {
  const name = `keysync_scale_${randomBytes(4).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${name}`;
  const instances: Instance[] = [];
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  const children: Child[] = [];
  try {
    for (let i = 0; i < INSTANCES; i++) {
      const port = await freePort();
      instances.push({ port, child: await spawnInstance(port, dbUrl.toString()), cpuBefore: 0, peakMB: 0, cpuStart: 0 });
    }
    nginx = await startNginx(instances.map((i) => `127.0.0.1:${i.port}`));
    const base = nginx.url;

    const stores: string[] = [];
    for (let s = 0; s < STORES; s++) {
      const res = await fetch(`${base}/v1/stores`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ config: { scope: '00000000-0000-4000-8000-0000000005ca', n: `${name}-${s}` } }),
      });
      if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
      stores.push(((await res.json()) as { storeId: string }).storeId);
    }
    // Subscribers in processes of their own (SCALE_CHILDREN), so reading events does not starve the writer.
    const per = Math.ceil(SUBSCRIBERS / CHILDREN);
    for (let c = 0; c < CHILDREN; c++) {
      const count = Math.min(per, SUBSCRIBERS - c * per);
      children.push(startChild('scale-subscribers-child.ts', { base, stores, count, offset: c * per, authorization: auth.authorization }, 2048));
    }
    const opened = await Promise.all(children.map((c) => c.ask<{ ready: number }>({ cmd: 'open' })));
    console.log(JSON.stringify({ feedsReady: opened.reduce((n, o) => n + o.ready, 0) }));

    const answered = new Map<string, Set<number>>(stores.map((s) => [s, new Set()]));
    let failed = 0;
    let sent = 0;
    let skipped = 0;
    const writeLatency: number[] = [];
    for (const i of instances) i.cpuStart = procStats(i.child.pid!).cpuS;
    const loadAverage = loadavg()[0]!;
    const startedAt = clock();
    const loadBefore = sample();
    const killAt = startedAt + (SECONDS * 1000) / 2;
    let killed: { at: number; restartedAt?: number } | undefined;
    let restarted: Promise<void> | undefined;
    const inFlight = new Set<Promise<void>>();
    const tickMs = 10;
    while (clock() < startedAt + SECONDS * 1000) {
      // The writes due by now (a fixed rate, whatever the answers take).
      const due = Math.floor(((clock() - startedAt) / 1000) * RATE);
      while (sent < due) {
        if (inFlight.size >= MAX_IN_FLIGHT) {
          // The servers are this far behind: the bench does not pile up more connections.
          skipped++;
          sent++;
          continue;
        }
        const storeId = stores[sent % STORES]!;
        // A new key each time: the change log is compacted (a key keeps its latest rev only), so a
        // feed that reconnects gets the latest write of an overwritten key, not each write of it.
        const key = `k${sent}`;
        const t = clock();
        sent++;
        const p = fetch(`${base}/v1/stores/${storeId}/keys/${key}`, {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ t, pad: 'x'.repeat(100) }),
        })
          .then(async (res) => {
            if (res.status !== 200) throw new Error(String(res.status));
            answered.get(storeId)!.add(((await res.json()) as { rev: number }).rev);
            writeLatency.push(clock() - t);
          })
          .catch(() => void failed++)
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (!killed && clock() >= killAt) {
        const victim = instances[0]!;
        const s = procStats(victim.child.pid!);
        victim.cpuBefore += s.cpuS - victim.cpuStart;
        victim.cpuStart = 0;
        victim.peakMB = Math.max(victim.peakMB, s.peakMB);
        killed = { at: clock() };
        victim.child.kill('SIGKILL');
        restarted = sleep(2000).then(async () => {
          victim.child = await spawnInstance(victim.port, dbUrl.toString());
          killed!.restartedAt = clock();
        });
      }
      await sleep(tickMs);
    }
    await Promise.all(inFlight);
    await restarted;
    const elapsedS = (clock() - startedAt) / 1000;
    const busy = busyCores(loadBefore, sample());
    // Every answered write must reach every subscriber of its store; the last ones get a minute to arrive.
    const expectedRevs = Object.fromEntries([...answered].map(([s, revs]) => [s, [...revs]]));
    const collected = await Promise.all(
      children.map((c) =>
        c.ask<{ expected: number; delivered: number; latencies: number[]; reconnects: number[] }>({ cmd: 'collect', expected: expectedRevs, waitMs: 60_000 }),
      ),
    );
    const expected = collected.reduce((n, c) => n + c.expected, 0);
    const delivered = collected.reduce((n, c) => n + c.delivered, 0);

    const perInstance = instances.map((i, n) => {
      const s = procStats(i.child.pid!);
      return {
        instance: n,
        restarted: n === 0,
        cpuCoresAvg: round((i.cpuBefore + s.cpuS - i.cpuStart) / elapsedS, 2),
        peakMB: Math.round(Math.max(i.peakMB, s.peakMB)),
      };
    });
    const lat = summarize(collected.flatMap((c) => c.latencies));
    const moved = collected.flatMap((c) => c.reconnects);
    const result = {
      when: new Date().toISOString(),
      settings: { instances: INSTANCES, subscribers: SUBSCRIBERS, stores: STORES, rate: RATE, seconds: SECONDS },
      writes: { sent: sent - skipped, skipped, answered: sent - skipped - failed, failed, answerMs: summarize(writeLatency) },
      delivered,
      expected,
      writeToEventMs: { p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max), n: lat.n },
      movedFeeds: { ...summarize(moved) },
      killedAtS: killed ? round((killed.at - startedAt) / 1000) : undefined,
      restartedAfterS: killed?.restartedAt ? round((killed.restartedAt - killed.at) / 1000) : undefined,
      instances: perInstance,
      machineBusyCores: round(busy, 2),
      loadAverageAtStart: round(loadAverage, 3),
    };
    console.log(JSON.stringify(result, null, 2));
    const out = process.env.SCALE_OUT ?? join(REPO_ROOT, 'bench/results/scale');
    writeFileSync(`${out}.json`, JSON.stringify(result, null, 2) + '\n');
    writeFileSync(`${out}.md`, markdown(result));
  } finally {
    await Promise.allSettled(children.map((c) => c.ask({ cmd: 'close' }).finally(() => c.stop())));
    await nginx?.stop();
    for (const i of instances) i.child.kill('SIGKILL');
    await sleep(500);
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

function markdown(r: any): string {
  const ms = (x: number) => `${round(x)} ms`;
  return `# Scale run: ${r.settings.instances} instances behind nginx

${r.when}. \`npx tsx bench/scale.ts\` (SCALE_* variables in its header). One fresh PostgreSQL database; nginx from deploy/nginx.conf.template; instance 0 killed with SIGKILL at ${r.killedAtS} s and listening again on the same port ${r.restartedAfterS} s after the kill (restarted 2 s after it). The machine is shared: its load average was ${r.loadAverageAtStart} when the writes started, and ${r.machineBusyCores} of 2 cores were busy on average during the run (everything on the machine, this run included). Instance CPU counts the write phase (and the restarted process's start-up).

| measure | value |
|---|---|
| live subscribers / stores | ${r.settings.subscribers} over ${r.settings.stores} stores, through nginx |
| writes | ${r.writes.sent} sent at ${r.settings.rate}/s for ${r.settings.seconds} s (${r.writes.skipped} skipped while ${MAX_IN_FLIGHT} were in flight); ${r.writes.answered} answered 200, ${r.writes.failed} not |
| write answer (through nginx) | p50 ${ms(r.writes.answerMs.p50)}, p99 ${ms(r.writes.answerMs.p99)} |
| delivered / expected events | ${r.delivered} / ${r.expected} (every answered write to every subscriber of its store) |
| write -> event | p50 ${ms(r.writeToEventMs.p50)}, p99 ${ms(r.writeToEventMs.p99)}, max ${ms(r.writeToEventMs.max)} |
| moved feeds: cut -> ready again | ${r.movedFeeds.n} feeds; p50 ${ms(r.movedFeeds.p50)}, p99 ${ms(r.movedFeeds.p99)}, max ${ms(r.movedFeeds.max)} |
${r.instances.map((i: any) => `| instance ${i.instance}${i.restarted ? ' (killed, restarted)' : ''} | ${i.cpuCoresAvg} cores on average, peak RSS ${i.peakMB} MB |`).join('\n')}
`;
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
