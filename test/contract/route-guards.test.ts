/**
 * Every operation of the OpenAPI document declares its access guard in its
 * route definition, and the server enforces exactly that: called without a
 * token, with a read token, a write token, a token of another store and the
 * admin token, each operation refuses (401 / 403) the callers below its
 * requirement and lets the others through to validation and the handler.
 * A new route without `requireAccess(...)` or `publicAccess` fails here.
 * (test/security/matrix.test.ts has the exact status of every cell.)
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessOf, type Access } from '../../src/http/auth.js';
import { ALL_ROUTES } from '../../src/openapi.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { REPO_ROOT } from '../support/process.js';
import type { TestServer } from '../support/server.js';
import { ADMIN, adminStore, bearer, issueToken, startSecured } from '../security/support.js';

type Caller = 'none' | 'read' | 'write' | 'other' | 'admin';
const CALLERS: Caller[] = ['none', 'read', 'write', 'other', 'admin'];

/** The callers each requirement refuses, and with what. */
const REFUSED: Record<Access, Partial<Record<Caller, 401 | 403>>> = {
  public: {},
  read: { none: 401, other: 403 },
  write: { none: 401, read: 403, other: 403 },
  admin: { none: 401, read: 403, write: 403, other: 403 },
};

const doc = JSON.parse(readFileSync(`${REPO_ROOT}/openapi/openapi.json`, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })));
const routeOf = (method: string, path: string) => ALL_ROUTES.find((r) => r.method.toUpperCase() === method && r.path === path);

let db: TestDatabase;
let server: TestServer;
let otherToken: string;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startSecured(db);
  otherToken = (await issueToken(server, await adminStore(server), 'write')).token;
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

/** The status of one call; a live feed's answer is its status line. */
async function status(method: string, path: string, token: string | undefined): Promise<number> {
  const abort = new AbortController();
  const res = await server.fetch(path, { method, headers: bearer(token), signal: abort.signal });
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) await res.arrayBuffer();
  abort.abort();
  return res.status;
}

describe('route guards', () => {
  it('every operation of the document is a route that declares its access', () => {
    const undeclared = operations.filter((op) => {
      const route = routeOf(op.method, op.path);
      return route === undefined || accessOf(route) === undefined;
    });
    expect(undeclared).toEqual([]);
  });

  it.each(operations.map((op) => [`${op.method} ${op.path}`, op] as const))('%s refuses exactly the callers below its declared access', async (_name, op) => {
    const access = accessOf(routeOf(op.method, op.path)!)!;
    const storeId = await adminStore(server);
    const tokens: Record<Caller, string | undefined> = {
      none: undefined,
      read: (await issueToken(server, storeId, 'read')).token,
      write: (await issueToken(server, storeId, 'write')).token,
      other: otherToken,
      admin: ADMIN,
    };
    const path = op.path
      .replace('{storeId}', storeId)
      .replace('{key}', 'k')
      .replace('{sessionId}', '00000000-0000-4000-8000-000000000001')
      .replace('{tokenId}', '00000000-0000-4000-8000-000000000002')
      .replace('{cursor}', '0');
    const actual: Record<string, number | 'through'> = {};
    const expected: Record<string, number | 'through'> = {};
    // The admin last: a call it is allowed may delete the store.
    for (const caller of CALLERS) {
      const got = await status(op.method, path, tokens[caller]);
      actual[caller] = got === 401 || got === 403 ? got : 'through';
      expected[caller] = REFUSED[access][caller] ?? 'through';
    }
    expect(actual, `declared access: ${access}`).toEqual(expected);
  });
});
