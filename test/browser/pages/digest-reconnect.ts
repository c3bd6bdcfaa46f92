/**
 * A replica in the page's IndexedDB, synced by @keysync/client as a browser
 * runs it; the test drives it through `globalThis.keysyncPage`.
 */
import { IndexedDBStore, SyncClient } from '../../../clients/typescript/src/index.js';

async function syncOnce(baseUrl: string, storeId: string, store: IndexedDBStore): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const client: SyncClient = new SyncClient({
      baseUrl,
      storeId,
      store,
      onComplete: () => {
        void client.unsubscribe();
        resolve();
      },
      onError: reject,
    });
    client.start();
  });
}

(globalThis as { keysyncPage?: unknown }).keysyncPage = {
  /** Syncs the replica named `name`; `forget`: first without its checkpoint (a `have` handshake, as after a reset). */
  async sync(baseUrl: string, storeId: string, name: string, forget: boolean): Promise<void> {
    const store = await IndexedDBStore.open(name);
    try {
      if (forget) await store.forgetRevisions();
      await syncOnce(baseUrl, storeId, store);
    } finally {
      await store.close();
    }
  },
  /** The replica's live values by key, in key order (as test/support/replica.ts reads the server's). */
  async snapshot(name: string): Promise<Record<string, unknown>> {
    const store = await IndexedDBStore.open(name);
    try {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(await store.have()).sort((a, b) => (a < b ? -1 : 1))) {
        const record = await store.get(key);
        if (record?.kind === 'json') out[key] = record.value;
      }
      return out;
    } finally {
      await store.close();
    }
  },
};
