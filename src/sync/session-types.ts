/** What a batch fetch and an ack take and give, shared by the prepared and the locked paths. */
import type { StorePolicy } from '../options/index.js';
import type { AckResponse } from '@keysync/protocol';

/** The ack's answer: the wire type the client reads. */
export type AckResult = AckResponse;

/** An ack's answer, and whether this very ack finished the session (metrics; not sent). */
export type AckOutcome = { result: AckResult; finished: boolean };

/** A batch fetch: which batch of which session, and how the store's options apply to it. */
export interface BatchRequest {
  storeId: string;
  sessionId: string;
  cursor: number;
  timeoutMs: number;
  /**
   * The store's current policy for its options document: a key the filter no
   * longer includes (options replaced since the handshake) is left out, and
   * so is a put whose value a library `filter(key, value)` rejects now.
   */
  policyFor?: (options: Record<string, unknown>) => StorePolicy;
  /**
   * A hint that the store had no options when last seen and has no library
   * value filter (PolicyRegistry.isOpen); the batch is then checked, not trusted.
   */
  open?: boolean;
}
