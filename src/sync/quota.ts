/**
 * Open sync sessions are bounded per store and per client (token at an
 * address). Both are counted in the database, where the sessions live, so
 * every instance sees the same numbers and a session frees its slots
 * wherever it ends: done, cancelled, or idle past KEYSYNC_BATCH_TIMEOUT_MS.
 * Two racing handshakes may both see the last slot free: the bounds are soft
 * by that much.
 */
import { and, eq, gt, lt, ne, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { syncSessions } from '../db/schema.js';
import type { Limits } from '../limits.js';
import { DomainError } from '../domain-errors.js';
import { nowMicros } from '../store/time.js';
import { cancelSession } from './sessions.js';

const tooMany = (detail: string, retryAfterS: number, limit: string) => new DomainError('too-many-sessions', detail, { limit, retryAfterS });

/** Open sessions of the store (of `client` when given, other than `except`), counted up to `upTo`. */
export async function openSessions(db: Db, storeId: string, timeoutMs: number, upTo: number, of: { client?: string; except?: string } = {}): Promise<number> {
  const conditions: SQL[] = [
    eq(syncSessions.storeId, storeId),
    lt(syncSessions.acked, sql`${syncSessions.batches} - 1`),
    gt(syncSessions.lastActiveUs, nowMicros() - timeoutMs * 1000),
  ];
  if (of.client !== undefined) conditions.push(eq(syncSessions.client, of.client));
  if (of.except !== undefined) conditions.push(ne(syncSessions.id, of.except));
  const open = db
    .select({ one: sql`1` })
    .from(syncSessions)
    .where(and(...conditions))
    .limit(upTo)
    .as('open');
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(open);
  return Number(row?.n ?? 0);
}

/**
 * Admits the session a handshake just opened (recorded with its client), or
 * cancels it and throws too-many-sessions when the client or the store
 * has no slot left. Checked after the handshake so that one with nothing
 * stale (an up-to-date replica reconnecting) is never refused.
 */
export async function admitSession(
  db: Db,
  limits: Pick<Limits, 'batchTimeoutMs' | 'maxSessionsPerStore' | 'maxSessionsPerClient'>,
  storeId: string,
  client: string | undefined,
  sessionId: string,
): Promise<void> {
  // A slot frees at the latest when an idle session expires.
  const retryAfter = Math.max(1, Math.ceil(limits.batchTimeoutMs / 1000 / 4));
  const { batchTimeoutMs, maxSessionsPerClient, maxSessionsPerStore } = limits;
  let refusal: DomainError | undefined;
  if (client !== undefined && (await openSessions(db, storeId, batchTimeoutMs, maxSessionsPerClient, { client, except: sessionId })) >= maxSessionsPerClient) {
    refusal = tooMany(
      `this token has ${maxSessionsPerClient} open sync sessions from this address; finish or cancel one (KEYSYNC_MAX_SESSIONS_PER_CLIENT)`,
      retryAfter,
      'KEYSYNC_MAX_SESSIONS_PER_CLIENT',
    );
  } else if ((await openSessions(db, storeId, batchTimeoutMs, maxSessionsPerStore + 1)) > maxSessionsPerStore) {
    refusal = tooMany(
      `this store has ${maxSessionsPerStore} open sync sessions (KEYSYNC_MAX_SESSIONS_PER_STORE)`,
      retryAfter,
      'KEYSYNC_MAX_SESSIONS_PER_STORE',
    );
  }
  if (refusal) {
    await cancelSession(db, storeId, sessionId);
    throw refusal;
  }
}
