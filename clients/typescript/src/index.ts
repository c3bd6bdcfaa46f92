/**
 * @keysync/client: the browser-safe core. The Node file store is a separate
 * entry (`@keysync/client/file-store`) so bundlers never see `node:fs`.
 */
export { createApiClient, type ApiClient, type ApiClientOptions, type EventsRequest } from './api.js';
export { Backoff, isRetryable, parseRetryAfter, type BackoffOptions } from './backoff.js';
export { CallbackError, KeysyncError, ProblemError, ProtocolError, StoreDeletedError } from './errors.js';
export type { FetchLike, HttpResult } from './http.js';
export type {
  ApplyOptions, BytesRecord, DeletedRecord, JsonRecord, LiveRecord, LocalRecord, LocalStore,
} from './local-store.js';
export {
  API_PREFIX, EVENTS, HEADERS, MEDIA_TYPES, PROBLEM_TYPE_BASE, PROBLEMS, STORE_ID_NAMESPACE,
  problemKind, problemType, type EventName, type ProblemKind,
} from './protocol.js';
export type { Change } from './records.js';
export { readSse, SseDecoder, type SseItem } from './sse.js';
export { canonicalConfig, storeId, type StoreConfig } from './store-id.js';
export { MemoryStore } from './stores/memory.js';
export {
  subscribe, SyncClient, type SubscribeOptions, type SyncProgress, type SyncState,
} from './sync-client.js';
export type {
  AckResponse, BatchResponse, BytesEntry, EntryMeta, HandshakeRequest, HandshakeResponse, JsonEntry,
  LiveEvent, Problem, ReadyEventData, TombstoneEntry, WireEntry,
} from './types.js';
