/**
 * Who may call what. Every route declares its access guard in its own
 * definition (`middleware: [requireAccess('write')]`, or `publicAccess`).
 * Without an admin token the server runs open (index.ts allows that on
 * loopback addresses only).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { tokens } from '../db/schema.js';
import { hashToken } from '../store/tokens.js';
import type { AppContext, AppEnv } from './app-env.js';
import { clientAddress } from './client-address.js';
import { ProblemError } from './problem.js';
import { tooManyRequests } from './rate-limit.js';

export type Scope = 'read' | 'write' | 'admin';

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

/** Checks the bearer token for `scope` and sets `c.var.caller`. */
export async function checkBearer(c: AppContext, scope: Scope): Promise<void> {
  const { adminToken, rateLimits, database } = c.var.services;
  if (adminToken === undefined) {
    c.set('caller', { kind: 'open' });
    return;
  }
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized();
  const token = match[1]!;
  if (sameSecret(token, adminToken)) {
    c.set('caller', { kind: 'admin' });
    return;
  }
  // A store token is looked up with the store of the URL: the statement stays within one
  // store (docs/deploy.md). Only when that misses is the hash looked up alone, to tell a
  // token of another store (403) from an unknown one (401): a failure path, listed as a
  // cross-store exception in test/scale/store-scope.ts.
  const storeId = c.req.param('storeId');
  // Unknown tokens cost a database lookup: an address that keeps guessing is slowed down.
  const address = clientAddress(c);
  const guessing = rateLimits.authFailures.peek(address);
  if (guessing > 0) {
    throw tooManyRequests(guessing, 'Too many requests with unknown tokens from this address (KEYSYNC_AUTH_FAILURE_LIMIT)', 'KEYSYNC_AUTH_FAILURE_LIMIT');
  }
  const hash = hashToken(token);
  const { db } = database;
  const [row] =
    storeId !== undefined && UUID.test(storeId)
      ? await db
          .select({ id: tokens.id, storeId: tokens.storeId, scope: tokens.scope })
          .from(tokens)
          .where(and(eq(tokens.storeId, storeId), eq(tokens.hash, hash)))
      : [];
  if (!row) {
    const [elsewhere] = await db.select({ id: tokens.id }).from(tokens).where(eq(tokens.hash, hash)).limit(1);
    if (!elsewhere) {
      rateLimits.authFailures.take(address);
      throw unauthorized();
    }
    throw forbidden(storeId === undefined ? 'This route needs the admin token' : 'This token belongs to another store');
  }
  c.set('caller', { kind: 'token', tokenId: row.id, storeId: row.storeId, scope: row.scope });
  const wait = rateLimits.requests.take(`${row.id}@${address}`);
  if (wait > 0) throw tooManyRequests(wait, 'Request rate of this token exceeded (KEYSYNC_RATE_LIMIT)', 'KEYSYNC_RATE_LIMIT');
  if (scope === 'admin') throw forbidden('This route needs the admin token');
  if (scope === 'write' && row.scope !== 'write') throw forbidden('This token may only read');
}

/** What a route requires of its caller: nothing, or a token of at least this scope (the admin token passes all). */
export type Access = 'public' | Scope;

const declaredAccess = new WeakMap<MiddlewareHandler<AppEnv>, Access>();

/** Marks `guard` as the access guard of the routes that list it (see `accessOf`). */
export function declareAccess(guard: MiddlewareHandler<AppEnv>, access: Access): MiddlewareHandler<AppEnv> {
  declaredAccess.set(guard, access);
  return guard;
}

/** The access a route declares among its `middleware`; undefined when it declares none. */
export function accessOf(route: { middleware?: unknown }): Access | undefined {
  const list: unknown[] = Array.isArray(route.middleware) ? route.middleware : route.middleware === undefined ? [] : [route.middleware];
  for (const item of list) {
    const access = typeof item === 'function' ? declaredAccess.get(item as MiddlewareHandler<AppEnv>) : undefined;
    if (access !== undefined) return access;
  }
  return undefined;
}

const guards: Record<Scope, MiddlewareHandler<AppEnv>> = {
  read: declareAccess(async (c, next) => {
    await checkBearer(c, 'read');
    return next();
  }, 'read'),
  write: declareAccess(async (c, next) => {
    await checkBearer(c, 'write');
    return next();
  }, 'write'),
  admin: declareAccess(async (c, next) => {
    await checkBearer(c, 'admin');
    return next();
  }, 'admin'),
};

/**
 * The access guard of a route: a bearer token of `scope` or more (admin),
 * or nothing in open mode. Sets `c.var.caller`.
 * @example createRoute({ ..., middleware: [requireAccess('write')] })
 */
export function requireAccess(scope: Scope): MiddlewareHandler<AppEnv> {
  return guards[scope];
}

/** The access guard of a route anyone may call, token or not. */
export const publicAccess: MiddlewareHandler<AppEnv> = declareAccess((_c, next) => next(), 'public');
