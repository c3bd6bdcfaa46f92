/**
 * @keysync/protocol: what server and client must agree on, in one package.
 * Protocol strings, the wire types (generated from the server's OpenAPI
 * document), store-id derivation and the exact-JSON text scanner. Pure: no
 * Node or DOM APIs, so it runs in the server, the browser and workers alike.
 */
export {
  API_PREFIX,
  EVENTS,
  HEADERS,
  HEARTBEAT_COMMENT,
  MEDIA_TYPES,
  PROBLEM_TYPE_BASE,
  PROBLEMS,
  STORE_ID_NAMESPACE,
  problemKind,
  problemType,
  type EventName,
  type ProblemKind,
} from './constants.js';
export { MAX_KEY_BYTES, isKeyName, isKeyText, keyProblem, keyTextProblem } from './keys.js';
export {
  JsonTextError,
  scanJson,
  spanText,
  withPlaceholders,
  type JsonSpan,
  type JsonTextProblem,
  type ScanOptions,
} from './json-text.js';
/** The generated OpenAPI types (openapi/openapi.json via openapi-typescript). */
export type { $defs, components, operations, paths, webhooks } from './schema.js';
export { assertStoreConfig, canonicalConfig, storeId, type StoreConfig } from './store-id.js';
export type {
  AckResponse,
  BatchResponse,
  BytesEntry,
  EntryMeta,
  HandshakeRequest,
  HandshakeResponse,
  JsonEntry,
  Problem,
  ReadyEventData,
  TombstoneEntry,
  WireEntry,
} from './wire-types.js';
