/** What a live feed needs to know about who opened it: the token (so revoking it ends the feed) and a re-check. */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { tokens } from '../db/schema.js';
import type { FeedRequest } from './feed.js';

/** Who opened a feed: a store token (by id), or a caller no token names (admin, open mode). */
export type Principal = { kind: 'token'; tokenId: string; storeId: string } | { kind: 'admin' | 'open' };

export function feedAccess(db: Db, principal: Principal): Pick<FeedRequest, 'tokenId' | 'stillAuthorized'> {
  if (principal.kind !== 'token') return {};
  const { tokenId, storeId } = principal;
  return {
    tokenId,
    stillAuthorized: async () => {
      const [row] = await db
        .select({ id: tokens.id })
        .from(tokens)
        .where(and(eq(tokens.storeId, storeId), eq(tokens.id, tokenId)));
      return row !== undefined;
    },
  };
}
