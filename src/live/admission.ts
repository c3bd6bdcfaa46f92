/**
 * Live feed slots: per client (token at an address), per store and per
 * server. A feed takes its slots before the stream starts and gives them back
 * when it ends, so the counts hold however a feed ends. Counted in this
 * process: behind a balancer each instance enforces its own, so N instances
 * serve up to N times KEYSYNC_MAX_SUBSCRIBERS_PER_STORE feeds of a store
 * (docs/deploy.md). A feed is one long connection to one instance, so the
 * per-client cap holds per instance the client is connected to.
 */
import type { Limits } from '../limits.js';
import { DomainError } from '../domain-errors.js';

const RETRY_AFTER_S = 5;

const full = (scope: 'client' | 'store' | 'server', detail: string, limit: string) =>
  new DomainError('too-many-subscribers', detail, { limit, retryAfterS: RETRY_AFTER_S, serverWide: scope === 'server' });

export class Admission {
  private total = 0;
  private readonly perStore = new Map<string, number>();
  private readonly perClient = new Map<string, number>();

  constructor(private readonly limits: Pick<Limits, 'maxSubscribers' | 'maxSubscribersPerStore' | 'maxSubscribersPerClient'>) {}

  /**
   * Takes a slot for a feed of `storeId` opened by `client` (undefined: admin
   * or open mode, no per-client limit) or throws too-many-subscribers; returns the
   * release function (safe to call twice).
   */
  admit(storeId: string, client: string | undefined): () => void {
    const { maxSubscribers, maxSubscribersPerStore, maxSubscribersPerClient } = this.limits;
    if (client !== undefined && (this.perClient.get(client) ?? 0) >= maxSubscribersPerClient) {
      throw full(
        'client',
        `this token already has ${maxSubscribersPerClient} live feeds open from this address (KEYSYNC_MAX_SUBSCRIBERS_PER_CLIENT)`,
        'KEYSYNC_MAX_SUBSCRIBERS_PER_CLIENT',
      );
    }
    if ((this.perStore.get(storeId) ?? 0) >= maxSubscribersPerStore) {
      throw full(
        'store',
        `this store already has ${maxSubscribersPerStore} live feeds on this instance (KEYSYNC_MAX_SUBSCRIBERS_PER_STORE)`,
        'KEYSYNC_MAX_SUBSCRIBERS_PER_STORE',
      );
    }
    if (this.total >= maxSubscribers)
      throw full('server', `this server already serves ${maxSubscribers} live feeds (KEYSYNC_MAX_SUBSCRIBERS)`, 'KEYSYNC_MAX_SUBSCRIBERS');
    this.total++;
    bump(this.perStore, storeId, 1);
    if (client !== undefined) bump(this.perClient, client, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      bump(this.perStore, storeId, -1);
      if (client !== undefined) bump(this.perClient, client, -1);
    };
  }

  stats(): { total: number; stores: number; clients: number } {
    return { total: this.total, stores: this.perStore.size, clients: this.perClient.size };
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
