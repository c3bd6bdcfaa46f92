/**
 * Serving a sync session: batches by cursor with a flow-control window,
 * acknowledgements, progress, cancel and idle expiry. Session state lives in
 * the database, so any server instance can serve any call of a session; each
 * call locks the session row, so concurrent calls of one session serialise.
 */
import type { components } from '@keysync/protocol';
import { and, asc, eq, gt, gte, lte, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { stores, syncChunks, syncSessions } from '../db/schema.js';
import { DomainError, notFound } from '../domain-errors.js';
import type { StorePolicy } from '../options/index.js';
import type { AckOutcome, BatchRequest } from './session-types.js';
import { readEntryTexts } from '../store/entry-sql.js';
import { assertStoreExists } from '../store/stores.js';
import { formatTs, nowMicros } from '../store/time.js';
import { batchBody } from './batch-body.js';
import { acknowledgeFast, chunkKeys, fetchBatchFast } from './batch.sql.js';
import { SESSION_DONE_SQL, advancesAck, hasBatch, isDone, isExpired, isInWindow, wasDelivered } from './session-rules.js';

export type { AckOutcome, AckResult, BatchRequest } from './session-types.js';

type SessionRow = typeof syncSessions.$inferSelect;

/** The wire shape of a session's progress (generated from the route's schema, not written again). */
export type SessionStatus = components['schemas']['SessionStatus'];

function status(s: SessionRow, timeoutMs: number): SessionStatus {
  return {
    sessionId: s.id,
    storeId: s.storeId,
    headRev: s.headRev,
    batchSize: s.batchSize,
    window: s.window,
    total: s.total,
    batches: s.batches,
    delivered: s.delivered,
    acked: s.acked,
    remaining: s.total - s.ackedKeys,
    done: isDone(s),
    expiresAt: formatTs(s.lastActiveUs + timeoutMs * 1000),
  };
}

/** Locks and returns a live session of the store, or throws 404 / 410. */
async function lockSession(tx: Db, storeId: string, sessionId: string, timeoutMs: number): Promise<SessionRow> {
  const [session] = await tx
    .select()
    .from(syncSessions)
    .where(and(eq(syncSessions.storeId, storeId), eq(syncSessions.id, sessionId)))
    .for('update');
  if (!session) throw notFound(`sync session ${sessionId}`);
  if (isExpired(session, nowMicros(), timeoutMs * 1000)) {
    throw new DomainError('session-expired', `no fetch or ack for ${timeoutMs} ms; handshake again`);
  }
  return session;
}

function checkCursor(session: SessionRow, cursor: number): void {
  if (!hasBatch(session, cursor)) {
    throw new DomainError('not-found', `batch ${cursor} does not exist; the session has ${session.batches} batches`);
  }
}

/**
 * Returns batch `cursor` as the response body: the current value of each of its keys. Refetching a cursor returns
 * the same keys (safe retry).
 */
export async function fetchBatch(db: Db, req: BatchRequest): Promise<string | Buffer> {
  return (await fetchBatchFast(db, req)) ?? fetchBatchLocked(db, req);
}

/**
 * fetchBatch on the locked path alone: it answers every case, the fast path
 * only the common one. Exported so a test can hold the two paths equal.
 */
export async function fetchBatchLocked(db: Db, req: BatchRequest): Promise<string | Buffer> {
  const { storeId, sessionId, cursor, timeoutMs, policyFor } = req;
  return db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as Db;
    const session = await lockSession(tx, storeId, sessionId, timeoutMs);
    checkCursor(session, cursor);
    if (!isInWindow(session, cursor)) {
      throw new DomainError('ack-required', `acknowledge batch ${session.acked + 1} before fetching batch ${cursor} (window ${session.window})`);
    }
    await tx
      .update(syncSessions)
      .set({ delivered: Math.max(session.delivered, cursor), lastActiveUs: nowMicros() })
      .where(and(eq(syncSessions.storeId, storeId), eq(syncSessions.id, sessionId)));
    const [chunk] = await tx
      .select({ keys: syncChunks.keys })
      .from(syncChunks)
      .where(and(eq(syncChunks.storeId, storeId), eq(syncChunks.sessionId, sessionId), eq(syncChunks.cursor, cursor)));
    if (!chunk) throw new DomainError('session-expired', 'the session is complete and its batches were released');
    const rows = await readEntryTexts(tx, storeId, chunk.keys);
    const policy = policyFor ? await currentPolicy(tx, storeId, policyFor) : undefined;
    return batchBody(
      cursor,
      session.batches,
      chunk.keys.map((key) => rows.get(key)),
      policy,
    );
  });
}

async function currentPolicy(tx: Db, storeId: string, policyFor: (options: Record<string, unknown>) => StorePolicy): Promise<StorePolicy> {
  const [store] = await tx.select({ options: stores.options }).from(stores).where(eq(stores.id, storeId));
  if (!store) throw notFound(`store ${storeId}`);
  return policyFor(store.options as Record<string, unknown>);
}

/** Acknowledges `cursor` and every batch before it; idempotent. */
export async function acknowledge(db: Db, storeId: string, sessionId: string, cursor: number, timeoutMs: number): Promise<AckOutcome> {
  const fast = await acknowledgeFast(db, storeId, sessionId, cursor, timeoutMs);
  // The fast path matches only an ack that moves the session forward.
  if (fast !== undefined) return { result: fast, finished: fast.done };
  return acknowledgeLocked(db, storeId, sessionId, cursor, timeoutMs);
}

/** acknowledge on the locked path alone (see fetchBatchLocked). */
export async function acknowledgeLocked(db: Db, storeId: string, sessionId: string, cursor: number, timeoutMs: number): Promise<AckOutcome> {
  return db.transaction(async (txRaw) => {
    const tx = txRaw as unknown as Db;
    let session = await lockSession(tx, storeId, sessionId, timeoutMs);
    const wasDone = isDone(session);
    checkCursor(session, cursor);
    if (!wasDelivered(session, cursor)) {
      throw new DomainError('not-delivered', `batch ${cursor} has not been fetched yet`);
    }
    if (advancesAck(session, cursor)) {
      const [sum] = await tx
        .select({ n: sql<number>`coalesce(sum(cardinality(${syncChunks.keys})), 0)::int` })
        .from(syncChunks)
        // Only the batches this ack newly covers: the earlier ones are already in ackedKeys.
        .where(and(eq(syncChunks.storeId, storeId), eq(syncChunks.sessionId, sessionId), gt(syncChunks.cursor, session.acked), lte(syncChunks.cursor, cursor)));
      const [updated] = await tx
        .update(syncSessions)
        .set({ acked: cursor, ackedKeys: session.ackedKeys + Number(sum?.n ?? 0), lastActiveUs: nowMicros() })
        .where(and(eq(syncSessions.storeId, storeId), eq(syncSessions.id, sessionId)))
        .returning();
      session = updated!;
      // A completed session keeps its row for idempotent acks; its key lists can go.
      if (isDone(session)) await tx.delete(syncChunks).where(and(eq(syncChunks.storeId, storeId), eq(syncChunks.sessionId, sessionId)));
    } else {
      await tx
        .update(syncSessions)
        .set({ lastActiveUs: nowMicros() })
        .where(and(eq(syncSessions.storeId, storeId), eq(syncSessions.id, sessionId)));
    }
    const s = status(session, timeoutMs);
    return { result: { acked: s.acked, next: s.done ? null : s.acked + 1, remaining: s.remaining, done: s.done }, finished: s.done && !wasDone };
  });
}

export async function sessionStatus(db: Db, storeId: string, sessionId: string, timeoutMs: number): Promise<SessionStatus> {
  return db.transaction(async (tx) => status(await lockSession(tx as unknown as Db, storeId, sessionId, timeoutMs), timeoutMs));
}

export async function cancelSession(db: Db, storeId: string, sessionId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const gone = await tx
      .delete(syncSessions)
      .where(and(eq(syncSessions.storeId, storeId), eq(syncSessions.id, sessionId)))
      .returning({ id: syncSessions.id });
    if (gone.length === 0) throw notFound(`sync session ${sessionId}`);
    await tx.delete(syncChunks).where(and(eq(syncChunks.storeId, storeId), eq(syncChunks.sessionId, sessionId)));
  });
}

/**
 * A session of one batch served within its handshake (`inline: true`):
 * batch 0 as its fetch answers, then acknowledged on the client's behalf,
 * so the session is done when the response leaves. The ack only releases
 * the session's chunks: the client's checkpoint still moves only once it
 * has applied the batch, and a client that fails first handshakes again
 * from its old checkpoint. `keys` (when asked: a stale list to send that
 * the handshake did not keep) are read before the ack releases them;
 * `finished` is the ack's (metrics).
 */
export async function deliverInline(
  db: Db,
  req: Omit<BatchRequest, 'cursor'>,
  withKeys: boolean,
): Promise<{ body: string | Buffer; keys: string[] | undefined; finished: boolean }> {
  const body = await fetchBatch(db, { ...req, cursor: 0 });
  const keys = withKeys ? await chunkKeys(db, req.storeId, req.sessionId, 0) : undefined;
  if (withKeys && !keys) throw new DomainError('session-expired', 'the session was cancelled while its handshake was answered; handshake again');
  const { finished } = await acknowledge(db, req.storeId, req.sessionId, 0, req.timeoutMs);
  return { body, keys, finished };
}

/** At most this many sessions are listed (the oldest first): the list is for people, not a sync path. */
export const MAX_LISTED_SESSIONS = 200;

/** The store's sessions that are neither done nor expired, oldest first; not-found for a store that does not exist. */
export async function listOpenSessions(db: Db, storeId: string, timeoutMs: number): Promise<SessionStatus[]> {
  const rows = await db
    .select()
    .from(syncSessions)
    // Not done, and not expired (session-rules.ts): idle for at most the timeout.
    .where(and(eq(syncSessions.storeId, storeId), gte(syncSessions.lastActiveUs, nowMicros() - timeoutMs * 1000), sql.raw(`not (${SESSION_DONE_SQL})`)))
    .orderBy(asc(syncSessions.lastActiveUs))
    .limit(MAX_LISTED_SESSIONS);
  if (rows.length === 0) await assertStoreExists(db, storeId);
  return rows.map((r) => status(r, timeoutMs));
}
