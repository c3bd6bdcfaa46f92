/**
 * Walk time for a tree of 100,000 nodes, through a real handshake.
 *
 *   npx tsx bench/walk.ts                                  # PGlite (in memory)
 *   npx tsx bench/walk.ts postgres://postgres@127.0.0.1:5432/postgres
 *                                                          # PostgreSQL: a scratch database is created and dropped
 *   npx tsx bench/walk.ts both [postgres-url]              # both, one line each
 *
 * The store holds a complete 8-ary tree of NODES nodes (keys `n/<uuid>`,
 * branch and leaf values of ~300 bytes, children written before parents) plus
 * GARBAGE unreachable nodes and a `db` root, registered with the tree-store
 * options (walk from `db`, `db` ranked last). Printed per backend: the
 * handshake of a fresh client with the walk, the same handshake without the
 * walk (order only), and the walk alone over the same database reader.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import postgres from 'postgres';
import { storeId as deriveStoreId } from '@keysync/protocol';
import { openDatabase, type Database } from '../src/db/client.js';
import { createKeysync } from '../src/keysync.js';
import { compilePolicy } from '../src/options/index.js';
import { readJsonSome } from '../src/store/reads.js';

const NODES = Number(process.env.WALK_NODES ?? 100_000);
const GARBAGE = 10_000;
const FANOUT = 8;
const BULK = 1000;
const OPTIONS = { walk: { roots: ['db'], refs: ['$.root', '$.children[*]'] }, order: [{ prefix: 'db', rank: 1 }] };
const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';

type Backend = { name: 'pglite' | 'postgres'; adminUrl?: string };

async function run(backend: Backend): Promise<string> {
  let database: Database;
  let drop = async () => {};
  if (backend.name === 'postgres') {
    const admin = postgres(backend.adminUrl!, { max: 1, onnotice: () => {} });
    const name = `keysync_bench_walk_${randomBytes(4).toString('hex')}`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(backend.adminUrl!);
    url.pathname = `/${name}`;
    database = await openDatabase({ databaseUrl: url.toString() });
    drop = async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
  } else {
    database = await openDatabase({});
  }
  const keysync = await createKeysync({ database, log: false, housekeepingMs: 0, limits: { maxBulkOps: BULK } });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await keysync.app.request(path, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as any;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  try {
    const config = { scope: randomUUID(), bench: 'walk' };
    const storeId = deriveStoreId(config);
    await call('POST', '/v1/stores', { config, options: OPTIONS });

    // A complete 8-ary tree: node i has children FANOUT*i+1 .. FANOUT*i+FANOUT.
    const ids = Array.from({ length: NODES }, () => `n/${randomUUID()}`);
    const valueOf = (i: number) => {
      const children: string[] = [];
      for (let c = FANOUT * i + 1; c <= FANOUT * i + FANOUT && c < NODES; c++) children.push(ids[c]!);
      const keys = Array.from({ length: FANOUT }, (_, j) => `k${String(i * FANOUT + j).padStart(7, '0')}`);
      return children.length > 0 ? { t: 'branch', keys: keys.slice(0, children.length), children } : { t: 'leaf', keys, vals: keys.map((_, j) => j) };
    };
    const started = performance.now();
    const ops: unknown[] = [];
    for (let g = 0; g < GARBAGE; g++) ops.push({ op: 'put', key: `n/${randomUUID()}`, value: { t: 'leaf', keys: ['old'], vals: [g] } });
    for (let i = NODES - 1; i >= 0; i--) ops.push({ op: 'put', key: ids[i]!, value: valueOf(i) });
    ops.push({ op: 'put', key: 'db', value: { root: ids[0], version: 1, size: NODES * FANOUT } });
    for (let i = 0; i < ops.length; i += BULK) await call('POST', `/v1/stores/${storeId}/writes`, { ops: ops.slice(i, i + BULK) });
    const loadS = (performance.now() - started) / 1000;

    const handshake = async () => {
      const t = performance.now();
      const hs = await call('POST', `/v1/stores/${storeId}/sync`, { have: {} });
      const ms = performance.now() - t;
      await call('DELETE', `/v1/stores/${storeId}/sync/${hs.sessionId}`).catch(() => {});
      return { ms, stale: hs.stale.length as number, last: hs.stale[hs.stale.length - 1] as string };
    };
    await handshake(); // warm-up: compiled policy, caches
    const withWalk = await handshake();
    if (withWalk.stale !== NODES + 1 || withWalk.last !== 'db') throw new Error(`unexpected stale list: ${withWalk.stale} keys, last ${withWalk.last}`);

    // The walk alone, over the same reader the handshake uses.
    const policy = compilePolicy(OPTIONS);
    const heapBefore = process.memoryUsage().heapUsed;
    let readMs = 0;
    const cpu = process.cpuUsage();
    const t = performance.now();
    const reached = await policy.walk!(async (keys) => {
      const r = performance.now();
      const values = new Map<string, unknown>();
      const { texts } = await readJsonSome(database.db, storeId, keys, Number.MAX_SAFE_INTEGER);
      for (const [key, json] of texts) values.set(key, json === null ? undefined : JSON.parse(json));
      readMs += performance.now() - r;
      return values;
    });
    const walkMs = performance.now() - t;
    const walkCpu = process.cpuUsage(cpu);
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;

    await call('PATCH', `/v1/stores/${storeId}`, { options: { order: OPTIONS.order } });
    await handshake();
    const noWalk = await handshake();

    return (
      `walk ${backend.name}: ${NODES} nodes (+${GARBAGE} garbage), reached ${reached.size}; ` +
      `handshake with walk ${(withWalk.ms / 1000).toFixed(2)} s, without walk ${(noWalk.ms / 1000).toFixed(2)} s, ` +
      `walk alone ${(walkMs / 1000).toFixed(2)} s (${Math.round(reached.size / (walkMs / 1000))} nodes/s, ` +
      `${((walkCpu.user + walkCpu.system) / 1e6).toFixed(2)} s CPU in this process, waiting on reads ${Math.round((100 * readMs) / walkMs)}%, heap +${heapMb.toFixed(0)} MB); ` +
      `store loaded in ${loadS.toFixed(1)} s; load average ${loadavg()[0]!.toFixed(1)}`
    );
  } finally {
    await keysync.close();
    await database.close();
    await drop();
  }
}

const [arg, pgArg] = process.argv.slice(2);
const backends: Backend[] =
  arg === undefined || arg === 'pglite'
    ? [{ name: 'pglite' }]
    : arg === 'both'
      ? [{ name: 'pglite' }, { name: 'postgres', adminUrl: pgArg ?? DEFAULT_PG }]
      : [{ name: 'postgres', adminUrl: arg === 'postgres' ? (pgArg ?? DEFAULT_PG) : arg }];
for (const backend of backends) console.log(await run(backend));
