/**
 * Cross-instance notices: every effect one instance has on the others
 * travels as a typed notice on one PostgreSQL NOTIFY channel, so N instances
 * behind a balancer act as one. Payloads are JSON checked against one schema;
 * a payload that does not decode (another version's notice) is ignored.
 *
 * - `commit`: a store's head moved to `rev`; tailers read the new rows.
 * - `deleted`: the store is gone; its feeds end with `store-deleted`.
 * - `revoked`: a token was revoked; feeds it opened end with `revoked`.
 * - `options`: the store's options changed to `version`; compiled policies are
 *   dropped and its feeds that read an older version end with `reset`
 *   (options-changed). Without `version` (an older sender) all its feeds end.
 * - `ping`: an instance checks that its own LISTEN connection hears notices.
 *
 * `from` names the sending instance, so it can skip what it did itself.
 */
import { z } from 'zod';

/** The channel; its name carries the payload version, so instances of another version never misread each other. */
export const NOTICE_CHANNEL = 'keysync_notices_v1';

const storeId = z.guid();
const NoticeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('commit'), storeId, rev: z.number().int().nonnegative(), from: z.string() }),
  z.object({ kind: z.literal('deleted'), storeId, from: z.string() }),
  z.object({ kind: z.literal('revoked'), storeId, tokenId: z.string(), from: z.string() }),
  z.object({ kind: z.literal('options'), storeId, version: z.number().int().nonnegative().optional(), from: z.string() }),
  z.object({ kind: z.literal('ping'), from: z.string() }),
]);

export type Notice = z.infer<typeof NoticeSchema>;
export type NoticeKind = Notice['kind'];

/** @example encodeNotice({ kind: 'deleted', storeId, from }) // '{"kind":"deleted","storeId":"…","from":"…"}' */
export function encodeNotice(notice: Notice): string {
  return JSON.stringify(notice);
}

/** The notice in a payload, or undefined when it is not one this version knows. */
export function decodeNotice(payload: string): Notice | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const parsed = NoticeSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The statement that sends notices. It names no table, so on a sharded
 * database (Citus) it runs on the coordinator, where every instance listens.
 * Inside a transaction the notices go out when it commits.
 *
 * Sent on its own, it is a transaction of its own, and a NOTIFY gives a
 * transaction an id, so its commit would wait for a WAL flush like a write's
 * and hold up the writes' flushes behind it. A notice is a hint that is lost
 * to a crash anyway (the hub's tick covers that), so this commit does not
 * wait for the flush (`synchronous_commit` off for this transaction only;
 * listeners hear it at commit either way). Inside a caller's transaction it
 * would apply to that transaction's commit: use it on its own only.
 */
export const NOTIFY_SQL = `select pg_notify('${NOTICE_CHANNEL}', p) from unnest($1::text[]) as p, set_config('synchronous_commit', 'off', true)`;
