/**
 * @keysync/protocol: what server and client must agree on, in one package.
 * Protocol strings, what a key may be, the wire types (generated from the
 * server's OpenAPI document), store-id derivation and the exact-JSON text
 * scanner. Pure: no Node or DOM APIs, so it runs in the server, the browser
 * and workers alike.
 *
 * Every module is exported whole: what a module exports is public, and a new
 * constant cannot be left out of a list here or in the client's re-export.
 */
export * from './bucket-digests.js';
export * from './constants.js';
export * from './json-text.js';
export * from './keys.js';
export * from './loopback.js';
/** The generated OpenAPI types (openapi/openapi.json via openapi-typescript). */
export * from './schema.js';
export * from './store-id.js';
export * from './ts-micros.js';
export * from './wire-types.js';
