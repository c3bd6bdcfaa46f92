/**
 * The only writer of entries. Every write of a store takes the store row's
 * lock first (`update stores ... returning`) and holds it to commit, so revs
 * are handed out in commit order: a reader that has seen rev N and reads
 * `rev > N` later can never miss a commit. A plain sequence does not give
 * that (concurrent transactions commit out of sequence order).
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
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
  const { results, headRev } = await db.transaction(async (tx) => {
    const [head] = await tx
      .update(stores)
      .set({
        headRev: sql`${stores.headRev} + ${n}`,
        // ts strictly increasing per store, even if the clock steps back.
        lastTsUs: sql`greatest((extract(epoch from clock_timestamp()) * 1000000)::bigint, ${stores.lastTsUs} + 1) + ${n - 1}`,
      })
      .where(eq(stores.id, storeId))
      .returning({ headRev: stores.headRev, lastTsUs: stores.lastTsUs });
    if (!head) throw notFound(`store ${storeId}`);

    if (n === 1 && (condition.ifMatchRev !== undefined || condition.ifAbsent || condition.mustExist)) {
      await checkCondition(tx as unknown as Db, storeId, ops[0]!.key, condition);
    }

    const firstRev = head.headRev - n + 1;
    const firstTs = head.lastTsUs - n + 1;
    const results: WriteResult[] = ops.map((op, i) => {
      const result: WriteResult = { key: op.key, rev: firstRev + i, ts: formatTs(firstTs + i) };
      if (op.op === 'delete') result.deleted = true;
      return result;
    });

    // One row per key: a key written twice in one call keeps its last op
    // (ON CONFLICT cannot touch a row twice in one statement).
    const lastIndex = new Map<string, number>();
    ops.forEach((op, i) => lastIndex.set(op.key, i));
    const rows = [...lastIndex.values()]
      .sort((a, b) => a - b)
      .map((i) => {
        const op = ops[i]!;
        const base = { storeId, key: op.key, rev: firstRev + i, tsUs: firstTs + i };
        if (op.op === 'delete') return { ...base, deleted: true, json: null, bytes: null, contentType: null };
        if ('json' in op) return { ...base, deleted: false, json: op.json, bytes: null, contentType: null };
        return { ...base, deleted: false, json: null, bytes: op.bytes, contentType: op.contentType };
      });
    for (let start = 0; start < rows.length; start += 1000) {
      await tx
        .insert(entries)
        .values(rows.slice(start, start + 1000))
        .onConflictDoUpdate({
          target: [entries.storeId, entries.key],
          set: {
            rev: sql`excluded.rev`,
            tsUs: sql`excluded.ts_us`,
            deleted: sql`excluded.deleted`,
            json: sql`excluded.json`,
            bytes: sql`excluded.bytes`,
            contentType: sql`excluded.content_type`,
          },
        });
    }
    await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, ${`${storeId}:${head.headRev}`})`);
    return { results, headRev: head.headRev };
  });
  onCommit?.({ storeId, headRev });
  return results;
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
