/**
 * Open sync sessions are bounded per store (counted in the database, so
 * every instance sees the same number) and per client (token at an address,
 * counted in this process). A session is open until it is done, cancelled or
 * idle past KEYSYNC_BATCH_TIMEOUT_MS. Two racing handshakes may both see
 * the last slot free: the per-store bound is soft by that much.
 */
import { and, eq, gt, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { syncSessions } from '../db/schema.js';
import type { Limits } from '../env.js';
import { ProblemError } from '../errors.js';
import type { Guard } from '../http/guard.js';
import { nowMicros } from '../store/time.js';
import { cancelSession } from './sessions.js';

const tooMany = (detail: string, retryAfterS: number) =>
  new ProblemError(429, 'too-many-sessions', 'Too Many Sessions', detail, undefined, { 'retry-after': String(retryAfterS) });

export async function openSessions(db: Db, storeId: string, timeoutMs: number, upTo: number): Promise<number> {
  const open = db
    .select({ one: sql`1` })
    .from(syncSessions)
    .where(
      and(
        eq(syncSessions.storeId, storeId),
        lt(syncSessions.acked, sql`${syncSessions.batches} - 1`),
        gt(syncSessions.lastActiveUs, nowMicros() - timeoutMs * 1000),
      ),
    )
    .limit(upTo)
    .as('open');
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(open);
  return Number(row?.n ?? 0);
}

/**
 * Admits the session a handshake just opened, or cancels it and throws 429
 * too-many-sessions when the client or the store has no slot left. Checked
 * after the handshake so that one with nothing stale (an up-to-date replica
 * reconnecting) is never refused.
 */
export async function admitSession(
  db: Db,
  guard: Guard,
  limits: Pick<Limits, 'batchTimeoutMs' | 'maxSessionsPerStore' | 'maxSessionsPerClient'>,
  storeId: string,
  client: string | undefined,
  sessionId: string,
): Promise<void> {
  // A slot frees at the latest when an idle session expires.
  const retryAfter = Math.max(1, Math.ceil(limits.batchTimeoutMs / 1000 / 4));
  let refusal: ProblemError | undefined;
  if (client !== undefined && guard.sessions.count(client) >= limits.maxSessionsPerClient) {
    refusal = tooMany(`this token has ${limits.maxSessionsPerClient} open sync sessions from this address; finish or cancel one (KEYSYNC_MAX_SESSIONS_PER_CLIENT)`, retryAfter);
  } else if ((await openSessions(db, storeId, limits.batchTimeoutMs, limits.maxSessionsPerStore + 1)) > limits.maxSessionsPerStore) {
    refusal = tooMany(`this store has ${limits.maxSessionsPerStore} open sync sessions (KEYSYNC_MAX_SESSIONS_PER_STORE)`, retryAfter);
  }
  if (refusal) {
    await cancelSession(db, storeId, sessionId);
    throw refusal;
  }
  if (client !== undefined) guard.sessions.add(client, sessionId);
}
