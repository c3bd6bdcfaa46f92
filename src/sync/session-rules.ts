/**
 * The rules of a sync session's batches and acks. Each is stated once for
 * each of the two paths that apply it: as a predicate over the session row
 * for the locked path (sessions.ts) and as an SQL condition over the
 * `sync_sessions` row for the fast path (batch.sql.ts), side by
 * side here under one name (`isDone`, `SESSION_DONE_SQL`); test/sync/session-rules.test.ts holds each pair equal. The SQL
 * forms take their parameters as placeholders (e.g. `'$3::int'`), so the
 * statement that embeds them keeps its own parameter order.
 */

/** The columns of a session row the rules read. */
export interface SessionProgress {
  batches: number;
  window: number;
  /** highest cursor handed out, -1 before the first fetch */
  delivered: number;
  /** highest cursor acknowledged, -1 before the first ack */
  acked: number;
  lastActiveUs: number;
}

/** Every batch is acknowledged (a session without batches is done from the start). */
export const isDone = (s: Pick<SessionProgress, 'acked' | 'batches'>): boolean => s.acked >= s.batches - 1;
export const SESSION_DONE_SQL = `acked >= batches - 1`;

/** Idle for longer than the timeout and not done: a done session stays readable (acks are idempotent) until it is dropped. */
export const isExpired = (s: SessionProgress, nowUs: number, timeoutUs: number): boolean => !isDone(s) && nowUs - s.lastActiveUs > timeoutUs;
/** Not expired (see isExpired). */
export const sessionOpenSql = (nowUs: string, timeoutUs: string) => `(${SESSION_DONE_SQL} or ${nowUs} - last_active_us <= ${timeoutUs})`;

/** The session has a batch `cursor`. */
export const hasBatch = (s: SessionProgress, cursor: number): boolean => cursor < s.batches;
export const hasBatchSql = (cursor: string) => `${cursor} < batches`;

/** Batch `cursor` is within the flow-control window: at most `window` batches past the last ack. */
export const isInWindow = (s: SessionProgress, cursor: number): boolean => cursor <= s.acked + s.window;
export const isInWindowSql = (cursor: string) => `${cursor} <= acked + "window"`;

/** Batch `cursor` was fetched (an ack of a batch not fetched yet is refused). */
export const wasDelivered = (s: SessionProgress, cursor: number): boolean => cursor <= s.delivered;
export const wasDeliveredSql = (cursor: string) => `${cursor} <= delivered`;

/** An ack of `cursor` moves the session forward (an ack at or below `acked` only touches it). */
export const advancesAck = (s: SessionProgress, cursor: number): boolean => cursor > s.acked;
export const advancesAckSql = (cursor: string) => `${cursor} > acked`;
