/**
 * Bounds of the handshake body's fields, shared by the route's schema
 * (routes/sync.routes.ts) and the worker's check of a plain body
 * (input.ts), which does not load the route module: the worker
 * starts in a fraction of the time without it.
 */

/** The longest ts a client can hold: the server's own are 27 characters. */
export const MAX_TS_LENGTH = 64;

/** The most keys per batch a client may ask for (capped further at KEYSYNC_MAX_BATCH_SIZE). */
export const MAX_BATCH_SIZE_FIELD = 100_000;
