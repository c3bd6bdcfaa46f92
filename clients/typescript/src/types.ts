/**
 * Wire shapes of the HTTP contract (API.md), written by hand on purpose:
 * they are stricter than the generated `components['schemas']` of
 * schema.ts (a JSON entry's `value` is required; a handshake has `have` or
 * `since`, never both) and wire.ts checks responses against them at run
 * time. test/schema-compat.test.ts pins them to the generated types, so a
 * server change that breaks them fails typecheck.
 */

/** Fields every entry carries. `ts` is server time (ISO-8601 UTC, microseconds). */
export interface EntryMeta {
  key: string;
  rev: number;
  ts: string;
}

/**
 * A JSON value. `unknown` because any JSON is allowed and we never inspect it.
 * `kind` is the wire's discriminator; optional here because the payload field
 * (`value`, `base64`, `deleted`) tells the three apart just as well.
 */
export interface JsonEntry extends EntryMeta {
  kind?: 'json';
  value: unknown;
}

/** Bytes with their content type, base64 on the wire. */
export interface BytesEntry extends EntryMeta {
  kind?: 'bytes';
  base64: string;
  contentType: string;
}

/** A delete; synced like a write so replicas learn about it. */
export interface TombstoneEntry extends EntryMeta {
  kind?: 'tombstone';
  deleted: true;
}

export type WireEntry = JsonEntry | BytesEntry | TombstoneEntry;

/** `POST /v1/stores/{storeId}/sync` body. */
export type HandshakeRequest = (
  | { have: Record<string, string>; since?: never }
  | { since: number; have?: never }
) & { prefix?: string; batchSize?: number };

/** `POST /v1/stores/{storeId}/sync` 201 body. */
export interface HandshakeResponse {
  sessionId: string;
  /** Keys to fetch in batches, in delivery order. */
  stale: string[];
  /** Keys the client holds that the server deleted or never had. */
  removed: string[];
  headRev: number;
  batchSize: number;
  batches: number;
  /** How many unacknowledged batches may be outstanding. */
  window: number;
  expiresAt: string;
}

/** `GET /v1/stores/{storeId}/sync/{sessionId}/batches/{cursor}` 200 body. */
export interface BatchResponse {
  cursor: number;
  entries: WireEntry[];
  next: number | null;
}

/** `POST /v1/stores/{storeId}/sync/{sessionId}/ack` 200 body. */
export interface AckResponse {
  acked: number;
  next: number | null;
  remaining: number;
  done: boolean;
}

/** RFC 9457 problem details; every error of the API has this body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** Present on validation problems. */
  errors?: { path: string; message: string }[];
  [extension: string]: unknown;
}

/** Data of `event: ready`. */
export interface ReadyEventData {
  headRev: number;
  /** The server's heartbeat interval; absent from servers that do not advertise it. */
  heartbeatMs?: number;
}

/** A live-feed event after parsing; `id` is the SSE id (the rev) when present. */
export type LiveEvent =
  | { type: 'put'; id: string | undefined; entry: JsonEntry | BytesEntry }
  | { type: 'delete'; id: string | undefined; entry: TombstoneEntry }
  | { type: 'ready'; id: string | undefined; data: ReadyEventData }
  | { type: 'reset'; id: string | undefined }
  | { type: 'store-deleted'; id: string | undefined }
  | { type: 'revoked'; id: string | undefined };
