/**
 * Who may call what. One middleware per required scope; the routes only name
 * the scope. Without an admin token the server runs open (index.ts allows
 * that on loopback addresses only).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import type { Db } from '../db/client.js';
import { tokens } from '../db/schema.js';
import { ProblemError } from '../errors.js';
import { clientAddress, setPrincipal, tooManyRequests, type Guard } from './guard.js';

export type Scope = 'read' | 'write' | 'admin';

export interface AuthSettings {
  db: Db;
  adminToken: string | undefined;
  /** per-client rate limits (absent: none) */
  guard?: Guard;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

function sameSecret(a: string, b: string): boolean {
  // Compare digests so the comparison is constant-time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A store id as PostgreSQL's uuid type reads it (any case); anything else names no store. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const unauthorized = (detail = 'A valid bearer token of this store is required') =>
  new ProblemError(401, 'unauthorized', 'Unauthorized', detail, undefined, {
    'www-authenticate': 'Bearer realm="keysync"',
  });
const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);

export function authorize(settings: AuthSettings, scope: Scope): MiddlewareHandler {
  return async (c, next) => {
    if (settings.adminToken === undefined) {
      setPrincipal(c, { kind: 'open' });
      return next();
    }
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized();
    const token = match[1]!;
    if (sameSecret(token, settings.adminToken)) {
      setPrincipal(c, { kind: 'admin' });
      return next();
    }
    // A store token is looked up with the store of the URL: the statement stays within one
    // store (docs/deploy.md). Only when that misses is the hash looked up alone, to tell a
    // token of another store (403) from an unknown one (401): a failure path, listed as a
    // cross-store exception in test/scale/store-scope.ts.
    const storeId = c.req.param('storeId');
    // Unknown tokens cost a database lookup: an address that keeps guessing is slowed down.
    const address = clientAddress(c);
    const guessing = settings.guard?.authFailures.peek(address) ?? 0;
    if (guessing > 0) {
      throw tooManyRequests(guessing, 'Too many requests with unknown tokens from this address (KEYSYNC_AUTH_FAILURE_LIMIT)', 'KEYSYNC_AUTH_FAILURE_LIMIT');
    }
    const hash = hashToken(token);
    const [row] =
      storeId !== undefined && UUID.test(storeId)
        ? await settings.db
            .select({ id: tokens.id, storeId: tokens.storeId, scope: tokens.scope })
            .from(tokens)
            .where(and(eq(tokens.storeId, storeId), eq(tokens.hash, hash)))
        : [];
    if (!row) {
      const [elsewhere] = await settings.db.select({ id: tokens.id }).from(tokens).where(eq(tokens.hash, hash)).limit(1);
      if (!elsewhere) {
        settings.guard?.authFailures.take(address);
        throw unauthorized();
      }
      throw forbidden(storeId === undefined ? 'This route needs the admin token' : 'This token belongs to another store');
    }
    setPrincipal(c, { kind: 'token', tokenId: row.id, storeId: row.storeId, scope: row.scope });
    const wait = settings.guard?.requests.take(`${row.id}@${address}`) ?? 0;
    if (wait > 0) throw tooManyRequests(wait, 'Request rate of this token exceeded (KEYSYNC_RATE_LIMIT)', 'KEYSYNC_RATE_LIMIT');
    if (scope === 'admin') throw forbidden('This route needs the admin token');
    if (scope === 'write' && row.scope !== 'write') throw forbidden('This token may only read');
    return next();
  };
}
