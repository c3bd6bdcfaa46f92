/**
 * The only writer of entries. Every write of a store takes the store row's
 * lock first (`update stores ... returning`) and holds it to commit, so revs
 * are handed out in commit order: a reader that has seen rev N and reads
 * `rev > N` later can never miss a commit. A plain sequence does not give
 * that (concurrent transactions commit out of sequence order).
 */
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { entries, stores } from '../db/schema.js';
import { ProblemError, notFound } from '../errors.js';
import { NOTIFY_CHANNEL } from './stores.js';
import { formatTs } from './time.js';

export type WriteOp =
  | { op: 'put'; key: string; json: string }
  | { op: 'put'; key: string; bytes: Uint8Array; contentType: string }
  | { op: 'delete'; key: string };

/** Preconditions of a single-key write (HTTP If-Match / If-None-Match). */
export interface WriteCondition {
  /** write only if the key is live at this rev */
  ifMatchRev?: number;
  /** write only if the key does not exist (or is deleted) */
  ifAbsent?: boolean;
  /** fail with 404 when the key is absent (single-key DELETE) */
  mustExist?: boolean;
}

export interface WriteResult {
  key: string;
  rev: number;
  ts: string;
  deleted?: true;
}

export interface CommitNotice {
  storeId: string;
  headRev: number;
}

/**
 * Applies ops atomically with consecutive revs in op order. `condition`
 * applies only to single-op writes. Calls `onCommit` after the commit so the
 * live feed can wake without waiting for NOTIFY.
 */
export async function applyWrites(
  db: Db,
  storeId: string,
  ops: WriteOp[],
  condition: WriteCondition = {},
  onCommit?: (notice: CommitNotice) => void,
): Promise<WriteResult[]> {
  if (ops.length === 0) return [];
  const n = ops.length;
  const conditional = n === 1 && (condition.ifMatchRev !== undefined || condition.ifAbsent || condition.mustExist);
  // Locks the store row and hands out n revs; ts strictly increasing per store, even if the clock steps back.
  const bump = sql`update ${stores} set head_rev = head_rev + ${n},
      last_ts_us = greatest((extract(epoch from clock_timestamp()) * 1000000)::bigint, last_ts_us + 1) + ${n - 1}
    where id = ${storeId} returning head_rev, last_ts_us`;
  let head: { headRev: number; lastTsUs: number } | undefined;
  if (!conditional) {
    // One statement, so one round trip: the store row is locked only while it runs.
    const rows = await db.execute(sql`with head as (${bump}),
      ins as (${upsert(storeId, ops, sql`head.head_rev - ${n}`, sql`head.last_ts_us - ${n}`, sql`head`)})
      select head_rev, last_ts_us, pg_notify(${NOTIFY_CHANNEL}, ${storeId} || ':' || head_rev) from head`);
    head = headOf(rows);
    if (!head) throw notFound(`store ${storeId}`);
  } else {
    head = await db.transaction(async (txRaw) => {
      const tx = txRaw as unknown as Db;
      const locked = headOf(await tx.execute(bump));
      if (!locked) throw notFound(`store ${storeId}`);
      await checkCondition(tx, storeId, ops[0]!.key, condition);
      await tx.execute(upsert(storeId, ops, sql`${locked.headRev - n}::bigint`, sql`${locked.lastTsUs - n}::bigint`));
      await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, ${`${storeId}:${locked.headRev}`})`);
      return locked;
    });
  }
  const firstRev = head.headRev - n + 1;
  const firstTs = head.lastTsUs - n + 1;
  const results: WriteResult[] = ops.map((op, i) => {
    const result: WriteResult = { key: op.key, rev: firstRev + i, ts: formatTs(firstTs + i) };
    if (op.op === 'delete') result.deleted = true;
    return result;
  });
  onCommit?.({ storeId, headRev: head.headRev });
  return results;
}

/** The returned store row of `bump` (postgres.js gives bigints as strings, PGlite as numbers). */
function headOf(result: unknown): { headRev: number; lastTsUs: number } | undefined {
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ head_rev: unknown; last_ts_us: unknown }>;
  const row = rows[0];
  return row && { headRev: Number(row.head_rev), lastTsUs: Number(row.last_ts_us) };
}

/**
 * Upserts one row per key, op i at rev `revBase + i + 1` and ts `tsBase + i + 1`.
 * A key written twice in one call keeps its last op (ON CONFLICT cannot
 * touch a row twice in one statement). The rows travel as a few array
 * parameters, so the statement is the same whatever the number of rows
 * (a multi-row VALUES list costs ~60 µs of CPU per row to build).
 */
function upsert(storeId: string, ops: WriteOp[], revBase: SQL, tsBase: SQL, from?: SQL): SQL {
  const lastIndex = new Map<string, number>();
  ops.forEach((op, i) => lastIndex.set(op.key, i));
  const keys: string[] = [];
  const ords: number[] = [];
  const json: Array<string | null> = [];
  const hex: Array<string | null> = [];
  const types: Array<string | null> = [];
  for (const i of [...lastIndex.values()].sort((a, b) => a - b)) {
    const op = ops[i]!;
    keys.push(op.key);
    ords.push(i + 1);
    // A delete has neither JSON nor bytes; a put has exactly one of them.
    json.push(op.op === 'put' && 'json' in op ? op.json : null);
    hex.push(op.op === 'put' && 'bytes' in op ? Buffer.from(op.bytes).toString('hex') : null);
    types.push(op.op === 'put' && 'bytes' in op ? op.contentType : null);
  }
  return sql`insert into ${entries} (store_id, key, rev, ts_us, deleted, json, bytes, content_type)
    select ${storeId}::uuid, u.k, ${revBase} + u.i, ${tsBase} + u.i, u.j is null and u.b is null, u.j, decode(u.b, 'hex'), u.c
    from ${from ? sql`${from}, ` : sql``}unnest(${sql.param(keys)}::text[], ${sql.param(ords)}::bigint[], ${sql.param(json)}::text[],
      ${sql.param(hex)}::text[], ${sql.param(types)}::text[]) as u(k, i, j, b, c)
    on conflict (store_id, key) do update set rev = excluded.rev, ts_us = excluded.ts_us, deleted = excluded.deleted,
      json = excluded.json, bytes = excluded.bytes, content_type = excluded.content_type`;
}

async function checkCondition(db: Db, storeId: string, key: string, condition: WriteCondition): Promise<void> {
  const [current] = await db
    .select({ rev: entries.rev, deleted: entries.deleted })
    .from(entries)
    .where(and(eq(entries.storeId, storeId), inArray(entries.key, [key])));
  const live = current && !current.deleted ? current : undefined;
  if (condition.mustExist && !live) throw notFound(`key ${JSON.stringify(key)}`);
  if (condition.ifAbsent && live) {
    throw new ProblemError(412, 'precondition-failed', 'Precondition Failed', `key exists at rev ${live.rev} (If-None-Match: *)`);
  }
  if (condition.ifMatchRev !== undefined && live?.rev !== condition.ifMatchRev) {
    const at = live ? `is at rev ${live.rev}` : 'does not exist';
    throw new ProblemError(412, 'precondition-failed', 'Precondition Failed', `key ${at}, not rev ${condition.ifMatchRev} (If-Match)`);
  }
}
