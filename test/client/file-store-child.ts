/**
 * Child process of file-store-kill.test.ts: syncs a FileStore replica with
 * large batches and prints `applying` to stdout as it hands the store its
 * third batch of 1000 or more records, so the parent can SIGKILL it while
 * that batch is being written. Prints `complete` when the sync completes.
 *
 * usage: file-store-child.ts <baseUrl> <storeId> <dir> <batchSize>
 */
import { FileStore } from '../../clients/typescript/src/stores/file.js';
import type { LocalStore } from '../../clients/typescript/src/local-store.js';
import { subscribe } from '../../clients/typescript/src/sync-client.js';

const [baseUrl, storeId, dir, batchSize] = process.argv.slice(2);
if (!baseUrl || !storeId || !dir || !batchSize) throw new Error('usage: file-store-child.ts <baseUrl> <storeId> <dir> <batchSize>');
const store = await FileStore.open(dir);
let large = 0;
const watched: LocalStore = {
  get: (key) => store.get(key),
  have: (prefix) => store.have(prefix),
  getCheckpoint: () => store.getCheckpoint(),
  remove: (keys, atRev) => store.remove(keys, atRev),
  forgetRevisions: () => store.forgetRevisions(),
  close: () => store.close(),
  applyBatch(records, options) {
    if (records.length >= 1000 && ++large === 3) process.stdout.write('applying\n');
    return store.applyBatch(records, options);
  },
};
subscribe({
  baseUrl,
  storeId,
  store: watched,
  batchSize: Number(batchSize),
  onComplete: () => process.stdout.write('complete\n'),
  onError: (error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exit(1);
  },
});
