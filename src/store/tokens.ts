/**
 * Per-store access tokens. The secret is shown once, at creation; the table
 * keeps only its SHA-256, so a database dump reveals no usable token.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { stores, tokens } from '../db/schema.js';
import { notFound } from '../domain-errors.js';
import { assertStoreExists, notify } from './stores.js';
import { formatTs } from './time.js';

export type TokenScope = 'read' | 'write';

/** What the table keeps of a token, and what a presented token is looked up by. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export interface TokenInfo {
  id: string;
  scope: TokenScope;
  createdAt: string;
}

const toInfo = (row: { id: string; scope: string; createdUs: number }): TokenInfo => ({
  id: row.id,
  scope: row.scope as TokenScope,
  createdAt: formatTs(row.createdUs),
});

/** Issues a token of `scope` for the store (not-found when it does not exist); the secret is in the result only. */
export async function createToken(db: Db, storeId: string, scope: TokenScope): Promise<TokenInfo & { token: string }> {
  // 32 random bytes: 256 bits, unguessable; base64url so it is safe in headers and URLs.
  const token = randomBytes(32).toString('base64url');
  const row = await db.transaction(async (tx) => {
    // The share lock keeps a concurrent store deletion from leaving an orphan token behind
    // (one that would work again if the same config were registered anew).
    const [store] = await tx.select({ id: stores.id }).from(stores).where(eq(stores.id, storeId)).for('share');
    if (!store) return undefined;
    const [inserted] = await tx
      .insert(tokens)
      .values({ storeId, id: randomUUID(), hash: hashToken(token), scope })
      .returning({ id: tokens.id, scope: tokens.scope, createdUs: tokens.createdUs });
    return inserted;
  });
  if (!row) throw notFound(`store ${storeId}`);
  return { ...toInfo(row), token };
}

/** The store's tokens, oldest first; not-found when the store does not exist. */
export async function listTokens(db: Db, storeId: string): Promise<TokenInfo[]> {
  const rows = await db
    .select({ id: tokens.id, scope: tokens.scope, createdUs: tokens.createdUs })
    .from(tokens)
    .where(eq(tokens.storeId, storeId))
    .orderBy(asc(tokens.createdUs), asc(tokens.id));
  if (rows.length === 0) await assertStoreExists(db, storeId);
  return rows.map(toInfo);
}

/**
 * Deletes the token; not-found for a missing store, then for a token the
 * store does not have. Announces the revocation (db/notices.ts) so every
 * instance ends the feeds it opened.
 */
export async function revokeToken(db: Db, storeId: string, id: string, from: string): Promise<void> {
  const revoked = await db.transaction(async (tx) => {
    const gone = await tx
      .delete(tokens)
      .where(and(eq(tokens.storeId, storeId), eq(tokens.id, id)))
      .returning({ id: tokens.id });
    if (gone.length === 0) return false;
    await notify(tx, { kind: 'revoked', storeId, tokenId: id, from });
    return true;
  });
  if (revoked) return;
  await assertStoreExists(db, storeId);
  throw notFound(`token ${id}`);
}
