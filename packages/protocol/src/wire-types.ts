/**
 * Wire shapes of the HTTP contract (API.md), derived from the generated
 * OpenAPI types (schema.ts, from the server's zod schemas) rather than
 * written out again, so a server change reaches them by `npm run openapi`.
 * Where the generated type is looser than the contract it is narrowed here:
 * a handshake has `have` or `since`, never both; a problem may come from
 * something other than keysync (a proxy), so its `type` is any string.
 */
import type { components } from './schema.js';

type Schemas = components['schemas'];

/**
 * `kind` is the wire's discriminator; optional here because the payload field
 * (`value`, `base64`, `deleted`) tells the three apart just as well, so
 * entries built by hand (local stores, tests) may leave it out.
 */
type KindOptional<Entry extends { kind: string }> = Omit<Entry, 'kind'> & Partial<Pick<Entry, 'kind'>>;

/** Fields every entry carries. `ts` is server time (ISO-8601 UTC, microseconds). */
export type EntryMeta = Pick<Schemas['JsonEntry'], 'key' | 'rev' | 'ts'>;

/** A JSON value. `unknown` because any JSON is allowed and we never inspect it. */
export type JsonEntry = KindOptional<Schemas['JsonEntry']>;

/** Bytes with their content type, base64 on the wire. */
export type BytesEntry = KindOptional<Schemas['BytesEntry']>;

/** A delete; synced like a write so replicas learn about it. */
export type TombstoneEntry = KindOptional<Schemas['Tombstone']>;

export type WireEntry = JsonEntry | BytesEntry | TombstoneEntry;

/** `POST /v1/stores/{storeId}/sync` body. */
export type HandshakeRequest = (Schemas['HandshakeByHave'] & { since?: never }) | (Schemas['HandshakeBySince'] & { have?: never });

/** `GET /v1/stores/{storeId}/sync/{sessionId}/batches/{cursor}` 200 body. */
export type BatchResponse = Omit<Schemas['Batch'], 'entries'> & { entries: WireEntry[] };

/** `POST /v1/stores/{storeId}/sync` 201 body; `batch` when the request said `inline: true` and the session has one batch. */
export type HandshakeResponse = Omit<Schemas['Handshake'], 'batch'> & { batch?: BatchResponse };

/** `POST /v1/stores/{storeId}/sync/{sessionId}/ack` 200 body. */
export type AckResponse = Schemas['AckResult'];

/** RFC 9457 problem details; every error of the API has this body. */
export type Problem = Omit<Schemas['GeneralProblem'], 'type'> & {
  type: string;
  /** Present on validation problems. */
  errors?: Schemas['FieldError'][];
  [extension: string]: unknown;
};

/** Data of `event: ready`. */
export type ReadyEventData = Schemas['ReadyEvent'];
