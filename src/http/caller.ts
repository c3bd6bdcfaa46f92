/** Who made a request, as the route's access guard established it (`c.var.caller`). */
import type { AppContext } from './app-env.js';
import { clientAddress } from './client-address.js';

export type Caller = { kind: 'open' } | { kind: 'admin' } | { kind: 'token'; tokenId: string; storeId: string; scope: string };

/** The caller, or open mode on a route that checked no token. */
export function callerOf(c: AppContext): Caller {
  return c.get('caller') ?? { kind: 'open' };
}

/** Key of the per-client limits: the token at this address; undefined for admin and open mode. */
export function clientKey(c: AppContext): string | undefined {
  const caller = callerOf(c);
  return caller.kind === 'token' ? `${caller.tokenId}@${clientAddress(c)}` : undefined;
}
