/**
 * `@keysync/client/protocol`: the wire protocol shared with the server
 * (@keysync/protocol, re-exported whole): constants (headers, media types,
 * event names, problem kinds), what a key may be, the generated OpenAPI types
 * and the wire shapes derived from them, the exact-JSON scanner and store
 * ids. Importable without the rest of the client; the root entry exports it
 * too.
 */
export * from '@keysync/protocol';
