/**
 * The physical floor: the database driven directly, without keysync.
 * PostgreSQL: postgres.js on the bench database (the server's own rows).
 * PGlite: an in-process PGlite with the same migrations, so the floor pays
 * no IPC at all (its rows are copied in for the read floor). It is set up as
 * the embedded server sets up its own: a data folder on disk (the server's
 * writes reach its files; a floor in memory would skip every file read and
 * write) and the server's settings (its small buffer pool).
 * Both listen on the floor's channel, as every keysync instance listens on
 * its own: each NOTIFY is delivered to a listener, as keysync's are.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { pgliteSettings, startParams } from '../../src/db/pglite-settings.js';
import { entrySize } from '../../src/store/entry-sql.js';
import { REPO_ROOT, type Backend } from './server.js';

export interface FloorRow {
  key: string;
  json: string;
}

export interface FloorDb {
  version: string;
  /** Reads every row of the store in rev order (postgres.js cursor; PGlite pages by rev); returns rows and bytes. */
  scan(storeId: string): Promise<{ rows: number; bytes: number }>;
  /** keysync's write statement: bump the store row, upsert the rows, notify. */
  write(storeId: string, rows: FloorRow[]): Promise<void>;
  addStore(storeId: string): Promise<void>;
  /**
   * After a bulk load: what autovacuum does on a default PostgreSQL cluster
   * (VACUUM, which marks the loaded pages all-visible, so that digests and
   * `have` comparisons read the primary key alone; and ANALYZE). This
   * machine's cluster runs with autovacuum off, which no deployment should.
   * Nothing on PGlite: the embedded server's own housekeeping decides.
   */
  settleLoad(): Promise<void>;
  close(): Promise<void>;
}

const FLOOR_CHANNEL = 'keysync_floor';

const SCAN = 'select key, rev, ts_us, deleted, json, bytes, content_type from entries where store_id = $1';

/**
 * An unconditional write as keysync issues it, in one statement: bump the
 * store row (its lock orders the revs), upsert the rows from array
 * parameters (the JSON values as one text joined by U+001E, as keysync sends
 * them), notify.
 */
const WRITE = `with head as (
    update stores set head_rev = head_rev + $2,
      last_ts_us = greatest((extract(epoch from clock_timestamp()) * 1000000)::bigint, last_ts_us + 1) + $2 - 1,
      max_entry_bytes = greatest(max_entry_bytes, $6::int)
    where id = $1 returning head_rev, last_ts_us),
  ins as (
    insert into entries (store_id, key, rev, ts_us, deleted, json, bytes, content_type)
    select $1, u.k, head.head_rev - $2 + u.i, head.last_ts_us - $2 + u.i, false, u.j, null, null
    from head, unnest($3::text[], $4::bigint[], string_to_array($5::text, E'\\x1e')) as u(k, i, j)
    on conflict (store_id, key) do update set rev = excluded.rev, ts_us = excluded.ts_us, deleted = excluded.deleted,
      json = excluded.json, bytes = excluded.bytes, content_type = excluded.content_type)
  select head_rev, pg_notify('${FLOOR_CHANNEL}', $1 || ':' || head_rev) from head`;

function writeParams(storeId: string, rows: FloorRow[]): unknown[] {
  // One row per key: the last write of a key wins, as in keysync.
  const last = new Map<string, number>();
  rows.forEach((r, i) => last.set(r.key, i));
  const idx = [...last.values()].sort((a, b) => a - b);
  const json = idx.map((i) => rows[i]!.json);
  // The largest value, as keysync's write statement keeps it.
  const largest = json.reduce((max, text) => Math.max(max, entrySize(text)), 0);
  return [storeId, rows.length, idx.map((i) => rows[i]!.key), idx.map((i) => i + 1), json.join('\x1e'), largest];
}

const ADD_STORE = `insert into stores (id, config) values ($1, '{}'::jsonb) on conflict do nothing`;

export async function openFloorDb(backend: Backend): Promise<FloorDb> {
  return backend.kind === 'postgres' ? openPostgresFloor(backend.databaseUrl!) : openPgliteFloor();
}

async function openPostgresFloor(url: string): Promise<FloorDb> {
  // The server's pool size, so the write floor has the same concurrency.
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  await sql.listen(FLOOR_CHANNEL, () => {});
  return {
    version: '',
    async scan(storeId) {
      let rows = 0;
      let bytes = 0;
      await sql.unsafe(`${SCAN} order by rev`, [storeId]).cursor(1000, (page) => {
        rows += page.length;
        for (const r of page) bytes += (r.json as string).length + (r.key as string).length;
      });
      return { rows, bytes };
    },
    // Prepared, as keysync sends it (postgres.js's `unsafe` would otherwise parse and plan it on every call).
    write: async (storeId, rows) => void (await sql.unsafe(WRITE, writeParams(storeId, rows) as never[], { prepare: true })),
    addStore: async (storeId) => void (await sql.unsafe(ADD_STORE, [storeId])),
    settleLoad: async () => void (await sql.unsafe('vacuum (analyze) entries')),
    close: () => sql.end({ timeout: 5 }),
  };
}

async function openPgliteFloor(): Promise<FloorDb & { copyRows(storeId: string, rows: FloorRow[], firstRev: number): Promise<void> }> {
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = mkdtempSync(join(tmpdir(), 'keysync-floor-'));
  // The settings the bench server runs with (it starts without the bench's KEYSYNC_ variables).
  const db = await PGlite.create({ dataDir, startParams: [...PGlite.defaultStartParams, ...startParams(pgliteSettings({}))] });
  const dir = join(REPO_ROOT, 'migrations');
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    await db.exec(readFileSync(join(dir, file), 'utf8').replaceAll('--> statement-breakpoint', ''));
  }
  const version = String((await db.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v);
  await db.listen(FLOOR_CHANNEL, () => {});
  const query = async (text: string, params: unknown[]) => (await db.query<Record<string, unknown>>(text, params)).rows;
  return {
    version,
    async scan(storeId) {
      let rows = 0;
      let bytes = 0;
      let after = 0;
      for (;;) {
        const page = await query(`${SCAN} and rev > $2 order by rev limit 1000`, [storeId, after]);
        rows += page.length;
        for (const r of page) bytes += (r.json as string).length + (r.key as string).length;
        if (page.length < 1000) break;
        after = Number(page[page.length - 1]!.rev);
      }
      return { rows, bytes };
    },
    write: async (storeId, rows) => void (await query(WRITE, writeParams(storeId, rows))),
    addStore: async (storeId) => void (await query(ADD_STORE, [storeId])),
    settleLoad: async () => undefined,
    async copyRows(storeId, rows, firstRev) {
      await query(
        `insert into entries (store_id, key, rev, ts_us, json)
         select $1, k, $2::bigint + i, $2::bigint + i, j from unnest($3::text[], $4::text[]) with ordinality as t(k, j, i)`,
        [storeId, firstRev - 1, rows.map((r) => r.key), rows.map((r) => r.json)],
      );
    },
    close: async () => {
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type PgliteFloorDb = Awaited<ReturnType<typeof openPgliteFloor>>;
export const canCopy = (db: FloorDb): db is PgliteFloorDb => 'copyRows' in db;
