/**
 * `@keysync/client/file-store`: the durable LocalStore for Node. Kept out of
 * the main entry because it imports `node:fs`.
 */
export { FileStore, type FileStoreOptions } from './stores/file.js';
