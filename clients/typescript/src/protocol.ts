/**
 * `@keysync/client/protocol`: the wire constants (headers, media types, event
 * names, problem kinds). They live in @keysync/protocol, shared with the
 * server; this entry keeps them importable without the rest of the client.
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
} from '@keysync/protocol';
