/**
 * Open sync sessions are bounded per store and per client (token at an
 * address). Both are counted in the database, where the sessions live, so
 * every instance sees the same numbers and a session frees its slots
 * wherever it ends: done, cancelled, or idle past KEYSYNC_BATCH_TIMEOUT_MS.
 * Two racing handshakes may both see the last slot free: the bounds are soft
 * by that much.
 */
import type { Db } from '../db/client.js';
import { preparedDb } from '../db/prepared.js';
import type { Limits } from '../limits.js';
import { DomainError } from '../domain-errors.js';
import { nowMicros } from '../store/time.js';
import { cancelSession } from './sessions.js';

const tooMany = (detail: string, retryAfterS: number, limit: string) => new DomainError('too-many-sessions', detail, { limit, retryAfterS });

/**
 * Open sessions of the store other than $4, counted up to $5, and those of
 * them opened by client $3 (none when $3 is null), counted up to $6: both
 * quotas in one prepared statement (a handshake runs it every time). $1
 * store id, $2 the oldest last activity that is not expired.
 */
const OPEN_SESSIONS = `with open as (select client from sync_sessions
    where store_id = $1::uuid and acked < batches - 1 and last_active_us > $2::bigint and id <> $4::uuid)
  select (select count(*)::int from (select 1 from open limit $5::int) s) as store,
    (select count(*)::int from (select 1 from open where client = $3::text limit $6::int) c) as client`;

/** Open sessions of the store, and of `client` among them, other than `except`; each counted up to its bound. */
async function openSessions(
  db: Db,
  storeId: string,
  timeoutMs: number,
  except: string,
  client: string | undefined,
  upTo: { store: number; client: number },
): Promise<{ store: number; client: number }> {
  const [row] = await preparedDb(db).query<{ store: number; client: number }>(OPEN_SESSIONS, [
    storeId,
    nowMicros() - timeoutMs * 1000,
    client ?? null,
    except,
    upTo.store,
    upTo.client,
  ]);
  return { store: Number(row?.store ?? 0), client: Number(row?.client ?? 0) };
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
  const open = await openSessions(db, storeId, batchTimeoutMs, sessionId, client, { store: maxSessionsPerStore, client: maxSessionsPerClient });
  let refusal: DomainError | undefined;
  if (client !== undefined && open.client >= maxSessionsPerClient) {
    refusal = tooMany(
      `this token has ${maxSessionsPerClient} open sync sessions from this address; finish or cancel one (KEYSYNC_MAX_SESSIONS_PER_CLIENT)`,
      retryAfter,
      'KEYSYNC_MAX_SESSIONS_PER_CLIENT',
    );
  } else if (open.store >= maxSessionsPerStore) {
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
