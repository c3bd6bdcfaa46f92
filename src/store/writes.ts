/**
 * The only writer of entries. Every write of a store takes the store row's
 * lock first (`update stores ... returning`) and holds it to commit, so revs
 * are handed out in commit order: a reader that has seen rev N and reads
 * `rev > N` later can never miss a commit. A plain sequence does not give
 * that (concurrent transactions commit out of sequence order).
 */
import type { Db } from '../db/client.js';
import { preparedDb } from '../db/prepared.js';
import { DomainError, notFound } from '../domain-errors.js';
import { entrySize } from './entry-sql.js';
import { formatTs } from './time.js';

/** A put's `json` is JSON text, as the body's JSON scan checked it: never empty, no raw control character. */
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
 * The write statement: lock the store row and take n revs and ts values
 * (ts strictly increasing per store, even if the clock steps back), upsert
 * the rows. One statement, so one round trip, and the store row is
 * locked only while it runs and commits. Its text never changes, so
 * postgres.js prepares it once per connection. The rows travel as a few
 * array parameters and one text of the JSON values (see `rowParams`);
 * $1 store id, $2 number of ops.
 */
const WRITE = `with head as (
    update stores set head_rev = head_rev + $2::bigint,
      last_ts_us = greatest((extract(epoch from clock_timestamp()) * 1000000)::bigint, last_ts_us + 1) + $2::bigint - 1,
      max_entry_bytes = greatest(max_entry_bytes, $8::int)
    where id = $1::uuid returning head_rev, last_ts_us),
  ins as (
    insert into entries (store_id, key, rev, ts_us, deleted, json, bytes, content_type)
    select $1::uuid, u.k, head.head_rev - $2::bigint + u.i, head.last_ts_us - $2::bigint + u.i,
      u.j is null and u.b is null, u.j, decode(u.b, 'hex'), u.c
    from head, unnest($3::text[], $4::bigint[], string_to_array($5::text, E'\\x1e', ''), $6::text[], $7::text[]) as u(k, i, j, b, c)
    on conflict (store_id, key) do update set rev = excluded.rev, ts_us = excluded.ts_us, deleted = excluded.deleted,
      json = excluded.json, bytes = excluded.bytes, content_type = excluded.content_type)
  select head_rev, last_ts_us from head`;

/** Takes the store row's lock before a conditional write reads the key (the check and the write see the same state). */
const LOCK_STORE = 'select 1 from stores where id = $1::uuid for update';

/**
 * Applies ops atomically with consecutive revs in op order. `condition`
 * applies only to single-op writes. Calls `onCommit` after the commit so the
 * live feed can wake and the other instances hear of it (LiveHub.committed).
 * The notice is not sent from this statement: on a sharded database it runs
 * on the store's node, and NOTIFY must go out where the instances listen.
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
  const prepared = preparedDb(db);
  const params = [storeId, n, ...rowParams(ops)];
  const conditional = n === 1 && (condition.ifMatchRev !== undefined || condition.ifAbsent || condition.mustExist);
  const head = conditional
    ? await prepared.transaction(async (query) => {
        if ((await query(LOCK_STORE, [storeId])).length === 0) throw notFound(`store ${storeId}`);
        checkCondition(await query<CurrentRow>(CURRENT, [storeId, ops[0]!.key]), ops[0]!.key, condition);
        return headOf(await query<HeadRow>(WRITE, params));
      })
    : headOf(await prepared.query<HeadRow>(WRITE, params));
  if (!head) throw notFound(`store ${storeId}`);
  const firstRev = head.headRev - n + 1;
  const firstTs = head.lastTsUs - n + 1;
  const results: WriteResult[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const result: WriteResult = { key: ops[i]!.key, rev: firstRev + i, ts: formatTs(firstTs + i) };
    if (ops[i]!.op === 'delete') result.deleted = true;
    results[i] = result;
  }
  onCommit?.({ storeId, headRev: head.headRev });
  return results;
}

/** postgres.js gives bigints as strings, PGlite as numbers. */
type HeadRow = { head_rev: string | number; last_ts_us: string | number };

function headOf(rows: HeadRow[]): { headRev: number; lastTsUs: number } | undefined {
  const row = rows[0];
  return row && { headRev: Number(row.head_rev), lastTsUs: Number(row.last_ts_us) };
}

/**
 * Separates the JSON values in WRITE's $5: JSON text never holds a raw
 * control character, and an empty field (never JSON) stands for no JSON.
 */
const VALUE_SEPARATOR = '\x1e';

/**
 * The parameters of WRITE after $2: one row per key, op i at rev and ts
 * offset i + 1. A key written twice in one call keeps its last op (ON
 * CONFLICT cannot touch a row twice in one statement). A delete has neither
 * JSON nor bytes; a put has exactly one of them. Arrays keep the statement
 * the same whatever the number of rows (a multi-row VALUES list costs ~60 µs
 * of CPU per row to build). The JSON values, most of a request's bytes, go
 * as one text joined by VALUE_SEPARATOR rather than as a text[]: an array
 * literal escapes every quote and backslash of every value, a copy of each on
 * the server and a character-by-character parse in PostgreSQL. The byte
 * columns go as NULL arrays when no op has bytes (unnest pads them with NULLs).
 * The last, $8, is the largest value written as a batch counts it
 * (`entrySize`), for the store's `max_entry_bytes`.
 */
function rowParams(ops: WriteOp[]): unknown[] {
  const lastIndex = new Map<string, number>();
  ops.forEach((op, i) => lastIndex.set(op.key, i));
  const keys: string[] = [];
  const ords: number[] = [];
  const json: string[] = [];
  let hex: Array<string | null> | null = null;
  let types: Array<string | null> | null = null;
  let largest = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if (lastIndex.get(op.key) !== i) continue;
    if (op.op === 'put' && 'bytes' in op) {
      hex ??= new Array<string | null>(keys.length).fill(null);
      types ??= new Array<string | null>(keys.length).fill(null);
      hex.push(Buffer.from(op.bytes).toString('hex'));
      types.push(op.contentType);
    } else {
      hex?.push(null);
      types?.push(null);
    }
    keys.push(op.key);
    ords.push(i + 1);
    json.push(op.op === 'put' && 'json' in op ? jsonField(op.json) : '');
    if (op.op === 'put') largest = Math.max(largest, 'json' in op ? entrySize(op.json) : entrySize(op.bytes));
  }
  return [keys, ords, json.join(VALUE_SEPARATOR), hex, types, largest];
}

/** A JSON value as a field of WRITE's $5 (text that is not JSON would shift the values of the rows after it). */
function jsonField(json: string): string {
  if (json.length === 0 || json.includes(VALUE_SEPARATOR)) throw new Error("applyWrites: a put's `json` must be JSON text");
  return json;
}

const CURRENT = 'select rev, deleted from entries where store_id = $1::uuid and key = $2';
type CurrentRow = { rev: string | number; deleted: boolean };

function checkCondition(rows: CurrentRow[], key: string, condition: WriteCondition): void {
  const current = rows[0];
  const liveRev = current && !current.deleted ? Number(current.rev) : undefined;
  if (condition.mustExist && liveRev === undefined) throw notFound(`key ${JSON.stringify(key)}`);
  if (condition.ifAbsent && liveRev !== undefined) {
    throw new DomainError('precondition-failed', `key exists at rev ${liveRev} (If-None-Match: *)`);
  }
  if (condition.ifMatchRev !== undefined && liveRev !== condition.ifMatchRev) {
    const at = liveRev !== undefined ? `is at rev ${liveRev}` : 'does not exist';
    throw new DomainError('precondition-failed', `key ${at}, not rev ${condition.ifMatchRev} (If-Match)`);
  }
}
