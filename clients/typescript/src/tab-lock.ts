/**
 * One sync loop per replica across the tabs of a browser. Two tabs running
 * two loops on one IndexedDB replica would each hold a session and a feed,
 * and each move the checkpoint; with Web Locks (`navigator.locks`) only the
 * tab holding the replica's lock runs the loop, the others wait in line and
 * take over when it closes. The waiting tabs still see every change through
 * the store (IndexedDBStore.onChange hears the leader's commits).
 */
import { subscribe, type SubscribeOptions, type SyncClient } from './sync-client.js';

export interface OneTabOptions extends SubscribeOptions {
  /** The lock's name: one per replica, e.g. the IndexedDB database name. */
  lockName: string;
  /** This tab got the lock and started the sync loop. */
  onLeader?: ((client: SyncClient) => void) | undefined;
}

export interface OneTabSubscription {
  /** The running client while this tab leads; undefined while it waits. */
  readonly client: SyncClient | undefined;
  /** Stops the loop (or stops waiting) and releases the lock. */
  stop(): Promise<void>;
}

interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

/**
 * Runs `subscribe(options)` in at most one tab at a time per `lockName`.
 * Without Web Locks (old browsers, Node) it simply subscribes.
 * @example
 * const store = await IndexedDBStore.open('keysync:notes');
 * store.onChange(render); // every tab renders every change
 * const sub = subscribeInOneTab({ baseUrl, storeId, store, lockName: store.name });
 */
export function subscribeInOneTab(options: OneTabOptions): OneTabSubscription {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  let client: SyncClient | undefined;
  if (!locks) {
    client = subscribe(options);
    options.onLeader?.(client);
    return {
      get client() {
        return client;
      },
      stop: () => client!.unsubscribe(),
    };
  }
  const quit = new AbortController();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const held = locks
    .request(`keysync:${options.lockName}`, { signal: quit.signal }, async () => {
      if (quit.signal.aborted) return;
      client = subscribe({
        ...options,
        onError: (error) => {
          // A stopped client must not keep the lock: another tab may do better (e.g. after a token change).
          if (client?.state === 'stopped') release();
          options.onError?.(error);
        },
      });
      options.onLeader?.(client);
      await released;
      await client.unsubscribe();
    })
    .catch(() => undefined); // AbortError when stopped while waiting
  return {
    get client() {
      return client;
    },
    async stop() {
      quit.abort();
      release();
      await held;
    },
  };
}
