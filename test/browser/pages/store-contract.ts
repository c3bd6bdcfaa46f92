/** The shared LocalStore contract, on IndexedDBStore in the page's real IndexedDB. */
import { IndexedDBStore } from '../../../clients/typescript/src/stores/indexeddb.js';
import { describeLocalStore } from '../../../clients/typescript/test/support/local-store-contract.js';
import { runAll } from './vitest-shim.js';

let n = 0;
describeLocalStore('IndexedDBStore in Chromium', async () => {
  const name = `contract-${Date.now()}-${++n}`;
  const store = await IndexedDBStore.open(name);
  return {
    store,
    reopen: async () => {
      await store.close();
      return IndexedDBStore.open(name);
    },
  };
});

(globalThis as { contractResults?: unknown }).contractResults = runAll();
