/**
 * Failures of the store and sync layers, in their own terms. The data layer
 * knows nothing of HTTP: it throws a DomainError with the facts, and the edge
 * (src/http/domain-problem.ts) turns each kind into its problem response.
 */

export type DomainErrorKind =
  /** a store, key, session or batch that does not exist */
  | 'not-found'
  /** a conditional write whose condition does not hold */
  | 'precondition-failed'
  /** a sync session idle past its timeout, or complete with its batches released */
  | 'session-expired'
  /** a batch fetched beyond the session's flow-control window */
  | 'ack-required'
  /** an ack of a batch not fetched yet */
  | 'not-delivered'
  /** a handshake `since` older than the purged tombstones */
  | 'since-purged'
  /** a handshake `since` ahead of the store's head */
  | 'since-ahead'
  /** digests (or a handshake built on them) the store cannot use: its policy needs values, or its options changed since */
  | 'digests-unusable'
  /** a limit refused the request; `quota` says which and when to retry */
  | 'too-many-sessions'
  | 'too-many-subscribers';

/** Which limit refused a request, and when a slot may free again. */
export interface Quota {
  /** the setting whose limit refused the request (e.g. KEYSYNC_MAX_SESSIONS_PER_STORE) */
  limit: string;
  retryAfterS: number;
  /** the whole server is at its limit (not this client or store): the server cannot serve it now */
  serverWide?: boolean;
}

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    /** a sentence for the client: what failed and what to do */
    readonly detail: string,
    readonly quota?: Quota,
  ) {
    super(detail);
    this.name = 'DomainError';
  }
}

/** `what` (e.g. `store <id>`, `key "a"`) does not exist. */
export const notFound = (what: string) => new DomainError('not-found', `${what} does not exist`);
