/**
 * @keysync/client: the browser-safe core. The Node file store is a separate
 * entry (`@keysync/client/file-store`) so bundlers never see `node:fs`.
 */
export {
  createApiClient, putBytesOp, type ApiClient, type ApiClientOptions, type CallOptions, type EventsRequest,
  type GetKeyOptions, type Health, type KeyQuery, type KeyValue, type Readiness, type StoreQuery, type WriteOptions,
} from './api.js';
export { Backoff, isRetryable, parseRetryAfter, type BackoffOptions } from './backoff.js';
export {
  CallbackError, KeysyncError, ProblemError, ProtocolError, StoreDeletedError, TokenRevokedError, UnreachableError,
} from './errors.js';
export { toProblem, type FetchLike, type HttpResult, type RawClient } from './http.js';
export type {
  ApplyOptions, BytesRecord, DeletedRecord, JsonRecord, LiveRecord, LocalRecord, LocalStore,
} from './local-store.js';
export {
  API_PREFIX, EVENTS, HEADERS, MEDIA_TYPES, PROBLEM_TYPE_BASE, PROBLEMS, STORE_ID_NAMESPACE,
  problemKind, problemType, type EventName, type ProblemKind,
} from './protocol.js';
export type { Change } from './records.js';
/** The generated OpenAPI types (openapi/openapi.json via openapi-typescript). */
export type { components, operations, paths } from './schema.js';
export { JsonTextError, scanJson, spanText, withPlaceholders, type JsonSpan, type ScanOptions } from './json-text.js';
export { readSse, SseDecoder, StalledError, type SseItem } from './sse.js';
export { canonicalConfig, storeId, type StoreConfig } from './store-id.js';
export { subscribeInOneTab, type OneTabOptions, type OneTabSubscription } from './tab-lock.js';
export { IndexedDBStore, type IndexedDBStoreOptions, type StoreChangeListener } from './stores/indexeddb.js';
export { MemoryStore } from './stores/memory.js';
export {
  subscribe, SyncClient, type SubscribeOptions, type SyncProgress, type SyncState,
} from './sync-client.js';
export type {
  AckResponse, BatchResponse, BytesEntry, EntryMeta, HandshakeRequest, HandshakeResponse, JsonEntry,
  LiveEvent, Problem, ReadyEventData, TombstoneEntry, WireEntry,
} from './types.js';
export type { ValueParser } from './wire.js';
