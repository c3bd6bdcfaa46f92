/**
 * Feed tokens: short-lived, read-only tokens for one store's live feed,
 * carried in the query string (`/events?access_token=...`) because a
 * browser's native EventSource cannot send an Authorization header.
 *
 * Stateless, so no table: `ksf1.<payload>.<mac>`, the payload (store id,
 * issuing token id, expiry) signed with HMAC-SHA256 under a key derived from
 * KEYSYNC_ADMIN_TOKEN, which every instance shares. A feed token can do less
 * than the token that minted it and never outlives it: the feed's principal
 * is the issuing token, so the issuer must still exist when the feed opens,
 * and revoking it ends the feeds its feed tokens opened (as for its own).
 * Rotating the admin token invalidates every feed token.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import type { Db } from '../db/client.js';
import { tokens } from '../db/schema.js';
import type { AppEnv } from './app-env.js';
import { checkBearer, declareAccess } from './auth.js';
import type { Caller } from './caller.js';
import { ProblemError } from './problem.js';

const PREFIX = 'ksf1';
/** The query parameter (the name OAuth 2.0 bearer usage, RFC 6750 §2.3, gives it). */
export const FEED_TOKEN_PARAM = 'access_token';
export const FEED_TOKEN_DEFAULT_TTL_S = 300;
export const FEED_TOKEN_MAX_TTL_S = 3600;
/** The issuer of a feed token minted with the admin token: no row to revoke, rotate the admin token instead. */
const ADMIN_ISSUER = 'admin';

interface Claims {
  /** store id */
  s: string;
  /** issuing token id, or `admin` */
  i: string;
  /** expiry, Unix seconds */
  e: number;
}

export class FeedTokens {
  private readonly key: Buffer;

  /** Without an admin token (open mode) feeds need no token; a random key keeps minting working. */
  constructor(adminToken: string | undefined) {
    this.key = adminToken === undefined ? randomBytes(32) : createHmac('sha256', adminToken).update('keysync feed-token key v1').digest();
  }

  /** A token for `storeId`'s feed, valid for `ttlS` seconds. */
  mint(storeId: string, issuer: Caller, ttlS: number, now = Date.now()): { token: string; expiresAt: string } {
    const e = Math.floor(now / 1000) + ttlS;
    const claims: Claims = { s: storeId, i: issuer.kind === 'token' ? issuer.tokenId : ADMIN_ISSUER, e };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `${PREFIX}.${payload}.${this.mac(payload)}`, expiresAt: new Date(e * 1000).toISOString() };
  }

  /** The claims of a well-signed token, expired or not; undefined for anything else. */
  read(token: string): Claims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX) return undefined;
    const [, payload, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
      if (typeof claims.s !== 'string' || typeof claims.i !== 'string' || !Number.isSafeInteger(claims.e)) return undefined;
      return claims;
    } catch {
      return undefined;
    }
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

const unauthorized = (detail: string) =>
  new ProblemError(401, 'unauthorized', 'Unauthorized', detail, undefined, { 'www-authenticate': 'Bearer realm="keysync"' });

/**
 * The access guard of the live feed: read scope, by a feed token in
 * `?access_token=` when there is no Authorization header, else by the usual
 * bearer check.
 */
export const requireFeedAccess: MiddlewareHandler<AppEnv> = declareAccess(async (c, next) => {
  const { adminToken, feedTokens, database } = c.var.services;
  const token = c.req.query(FEED_TOKEN_PARAM);
  if (adminToken === undefined || token === undefined || c.req.header('authorization') !== undefined) {
    await checkBearer(c, 'read');
    return next();
  }
  const claims = feedTokens.read(token);
  if (!claims) throw unauthorized('The feed token is not valid');
  if (claims.e * 1000 <= Date.now()) throw unauthorized('The feed token expired: mint a new one');
  if (claims.s !== c.req.param('storeId')) throw new ProblemError(403, 'forbidden', 'Forbidden', 'This feed token belongs to another store');
  if (claims.i === ADMIN_ISSUER) {
    c.set('caller', { kind: 'admin' });
    return next();
  }
  if (!(await issuerExists(database.db, claims.s, claims.i))) throw unauthorized('The token that minted this feed token was revoked');
  c.set('caller', { kind: 'token', tokenId: claims.i, storeId: claims.s, scope: 'read' });
  return next();
}, 'read');

async function issuerExists(db: Db, storeId: string, tokenId: string): Promise<boolean> {
  // The id is only a claim until this lookup; a malformed one cannot be a token's.
  if (!/^[0-9a-f-]{36}$/i.test(tokenId)) return false;
  const [row] = await db
    .select({ id: tokens.id })
    .from(tokens)
    .where(and(eq(tokens.storeId, storeId), eq(tokens.id, tokenId)));
  return row !== undefined;
}
