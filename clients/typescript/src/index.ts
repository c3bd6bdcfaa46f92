/**
 * @keysync/client: the browser-safe core. The Node file store is a separate
 * entry (`@keysync/client/file-store`) so bundlers never see `node:fs`.
 */
export {
  createApiClient,
  putBytesOp,
  type ApiClient,
  type ApiClientOptions,
  type CallOptions,
  type EventsRequest,
  type GetKeyOptions,
  type Health,
  type KeyQuery,
  type KeyValue,
  type Readiness,
  type StoreQuery,
  type WriteOptions,
} from './api.js';
export { Backoff, isRetryable, parseRetryAfter, type BackoffOptions } from './backoff.js';
export {
  CallbackError,
  KeysyncError,
  ProblemError,
  ProtocolError,
  StoreDeletedError,
  TokenRevokedError,
  UnreachableError,
} from './errors.js';
export { toProblem, type FetchLike, type HttpResult, type RawClient } from './http.js';
export type {
  ApplyOptions,
  BytesRecord,
  DeletedRecord,
  JsonRecord,
  LiveRecord,
  LocalRecord,
  LocalStore,
} from './local-store.js';
/** The wire protocol shared with the server (@keysync/protocol), whole: see protocol.ts. */
export * from './protocol.js';
export type { Change } from './records.js';
export { readSse, SseDecoder, StalledError, type SseItem } from './sse.js';
export { subscribeInOneTab, type OneTabOptions, type OneTabSubscription } from './tab-lock.js';
export { IndexedDBStore, type IndexedDBStoreOptions, type StoreChangeListener } from './stores/indexeddb.js';
export { MemoryStore } from './stores/memory.js';
export {
  subscribe,
  SyncClient,
  type SubscribeOptions,
  type SyncProgress,
  type SyncState,
} from './sync-client.js';
export type { LiveEvent, ValueParser } from './wire.js';
