/**
 * Access matrix: every route × every kind of caller, with the exact status
 * of each cell. One test per route; its name is the row of the table, so the
 * test report prints the whole matrix. Each row gets a fresh store and
 * tokens, and each cell prepares what it needs (as admin), so a cell that
 * succeeds (deletes, revokes) cannot change the answer of another.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { REPO_ROOT } from '../support/process.js';
import type { TestServer } from '../support/server.js';
import { admin, adminStore, bearer, issueToken, revokeToken, startSecured, ADMIN } from './support.js';

type Cred = 'none' | 'bad' | 'read' | 'write' | 'other' | 'revoked' | 'admin' | 'feed' | 'feedRevoked';
const CREDS: Cred[] = ['none', 'bad', 'read', 'write', 'other', 'revoked', 'admin', 'feed', 'feedRevoked'];
/** Feed tokens travel in `?access_token=` (minted by a read token; by a since-revoked token), never as a bearer header. */
const FEED_CREDS: Cred[] = ['feed', 'feedRevoked'];

interface Fixture {
  storeId: string;
  tokens: Record<Cred, string | undefined>;
}

interface Prepared {
  path: string;
  init?: RequestInit;
}

interface Row {
  method: string;
  /** the OpenAPI path template (or a plain path for the routes outside the document) */
  route: string;
  expect: Record<Cred, number>;
  prepare(f: Fixture, cred: Cred): Promise<Prepared>;
}

let db: TestDatabase;
let server: TestServer;
/** a write token of another store: the strongest token that must still be refused */
let otherToken: string;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startSecured(db);
  const other = await adminStore(server);
  otherToken = (await issueToken(server, other, 'write')).token;
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

const open = (status: number) => Object.fromEntries(CREDS.map((c) => [c, status])) as Record<Cred, number>;
/** 401 for no, unknown and revoked tokens; then read, write, other store's token, admin */
const authed = (read: number, write: number, other: number, adminStatus: number, feed = 401): Record<Cred, number> => ({
  none: 401,
  bad: 401,
  read,
  write,
  other,
  revoked: 401,
  admin: adminStatus,
  feed,
  feedRevoked: 401,
});
const adminOnly = (ok: number) => authed(403, 403, 403, ok);

const A = (f: Fixture) => `/v1/stores/${f.storeId}`;
const withAuth = (f: Fixture, cred: Cred, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), ...bearer(FEED_CREDS.includes(cred) ? undefined : f.tokens[cred]) },
});
const put = async (f: Fixture, key: string) => {
  const res = await call(server, `${A(f)}/keys/${encodeURIComponent(key)}`, json({ key }, { method: 'PUT', headers: admin }));
  expect(res.status).toBe(200);
};
/** A session with 3 batches whose batch 0 was fetched (so it can be acked). */
const session = async (f: Fixture) => {
  for (const k of ['s1', 's2', 's3']) await put(f, k);
  const hs = await call(server, `${A(f)}/sync`, json({ have: {}, batchSize: 1 }, { headers: admin }));
  expect(hs.status).toBe(201);
  const batch = await call(server, `${A(f)}/sync/${hs.body.sessionId}/batches/0`, { headers: admin });
  expect(batch.status).toBe(200);
  return hs.body.sessionId as string;
};

const ROWS: Row[] = [
  { method: 'GET', route: '/healthz', expect: open(200), prepare: async (f, c) => ({ path: '/healthz', init: withAuth(f, c) }) },
  { method: 'GET', route: '/readyz', expect: open(200), prepare: async (f, c) => ({ path: '/readyz', init: withAuth(f, c) }) },
  { method: 'GET', route: '/metrics', expect: open(200), prepare: async (f, c) => ({ path: '/metrics', init: withAuth(f, c) }) },
  { method: 'GET', route: '/openapi.json', expect: open(200), prepare: async (f, c) => ({ path: '/openapi.json', init: withAuth(f, c) }) },
  { method: 'GET', route: '/docs', expect: open(200), prepare: async (f, c) => ({ path: '/docs', init: withAuth(f, c) }) },
  {
    method: 'POST',
    route: '/v1/stores',
    expect: adminOnly(201),
    prepare: async (f, c) => ({
      path: '/v1/stores',
      init: withAuth(f, c, json({ config: { scope: '00000000-0000-4000-8000-00000000beef', cell: `${f.storeId}-${c}` } })),
    }),
  },
  { method: 'GET', route: '/v1/stores', expect: adminOnly(200), prepare: async (f, c) => ({ path: '/v1/stores', init: withAuth(f, c) }) },
  { method: 'GET', route: '/v1/stores/{storeId}', expect: authed(200, 200, 403, 200), prepare: async (f, c) => ({ path: A(f), init: withAuth(f, c) }) },
  {
    method: 'PATCH',
    route: '/v1/stores/{storeId}',
    expect: adminOnly(200),
    prepare: async (f, c) => ({ path: A(f), init: withAuth(f, c, json({ options: {} }, { method: 'PATCH' })) }),
  },
  {
    method: 'DELETE',
    route: '/v1/stores/{storeId}',
    expect: adminOnly(204),
    prepare: async (f, c) => ({ path: A(f), init: withAuth(f, c, { method: 'DELETE' }) }),
  },
  {
    method: 'POST',
    route: '/v1/stores/{storeId}/tokens',
    expect: adminOnly(201),
    prepare: async (f, c) => ({ path: `${A(f)}/tokens`, init: withAuth(f, c, json({ scope: 'read' })) }),
  },
  { method: 'GET', route: '/v1/stores/{storeId}/tokens', expect: adminOnly(200), prepare: async (f, c) => ({ path: `${A(f)}/tokens`, init: withAuth(f, c) }) },
  {
    method: 'DELETE',
    route: '/v1/stores/{storeId}/tokens/{tokenId}',
    expect: adminOnly(204),
    prepare: async (f, c) => {
      const spare = await issueToken(server, f.storeId, 'read');
      return { path: `${A(f)}/tokens/${spare.id}`, init: withAuth(f, c, { method: 'DELETE' }) };
    },
  },
  {
    method: 'PUT',
    route: '/v1/stores/{storeId}/keys/{key}',
    expect: authed(403, 200, 403, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/keys/a%2Fb`, init: withAuth(f, c, json({ by: c }, { method: 'PUT' })) }),
  },
  {
    method: 'GET',
    route: '/v1/stores/{storeId}/keys/{key}',
    expect: authed(200, 200, 403, 200),
    prepare: async (f, c) => {
      await put(f, 'g');
      return { path: `${A(f)}/keys/g`, init: withAuth(f, c) };
    },
  },
  {
    method: 'DELETE',
    route: '/v1/stores/{storeId}/keys/{key}',
    expect: authed(403, 200, 403, 200),
    prepare: async (f, c) => {
      await put(f, `del-${c}`);
      return { path: `${A(f)}/keys/del-${c}`, init: withAuth(f, c, { method: 'DELETE' }) };
    },
  },
  {
    method: 'PUT',
    route: '/v1/stores/{storeId}/key',
    expect: authed(403, 200, 403, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/key?key=..`, init: withAuth(f, c, json({ by: c }, { method: 'PUT' })) }),
  },
  {
    method: 'GET',
    route: '/v1/stores/{storeId}/key',
    expect: authed(200, 200, 403, 200),
    prepare: async (f, c) => {
      await put(f, 'g');
      return { path: `${A(f)}/key?key=g`, init: withAuth(f, c) };
    },
  },
  {
    method: 'DELETE',
    route: '/v1/stores/{storeId}/key',
    expect: authed(403, 200, 403, 200),
    prepare: async (f, c) => {
      await put(f, `del-${c}`);
      return { path: `${A(f)}/key?key=del-${c}`, init: withAuth(f, c, { method: 'DELETE' }) };
    },
  },
  {
    method: 'POST',
    route: '/v1/stores/{storeId}/writes',
    expect: authed(403, 200, 403, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/writes`, init: withAuth(f, c, json({ ops: [{ op: 'put', key: `bulk-${c}`, value: 1 }] })) }),
  },
  {
    method: 'GET',
    route: '/v1/stores/{storeId}/keys',
    expect: authed(200, 200, 403, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/keys`, init: withAuth(f, c) }),
  },
  {
    method: 'POST',
    route: '/v1/stores/{storeId}/sync',
    expect: authed(201, 201, 403, 201),
    prepare: async (f, c) => ({ path: `${A(f)}/sync`, init: withAuth(f, c, json({ have: {} })) }),
  },
  {
    method: 'POST',
    route: '/v1/stores/{storeId}/sync/digests',
    expect: authed(200, 200, 403, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/sync/digests`, init: withAuth(f, c, json({ buckets: 1, digests: 'AAAAAAAAAAA=' })) }),
  },
  {
    method: 'GET',
    route: '/v1/stores/{storeId}/sync/{sessionId}',
    expect: authed(200, 200, 403, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/sync/${await session(f)}`, init: withAuth(f, c) }),
  },
  {
    method: 'GET',
    route: '/v1/stores/{storeId}/sync/{sessionId}/batches/{cursor}',
    expect: authed(200, 200, 403, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/sync/${await session(f)}/batches/0`, init: withAuth(f, c) }),
  },
  {
    method: 'POST',
    route: '/v1/stores/{storeId}/sync/{sessionId}/ack',
    expect: authed(200, 200, 403, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/sync/${await session(f)}/ack`, init: withAuth(f, c, json({ cursor: 0 })) }),
  },
  {
    method: 'DELETE',
    route: '/v1/stores/{storeId}/sync/{sessionId}',
    expect: authed(204, 204, 403, 204),
    prepare: async (f, c) => ({ path: `${A(f)}/sync/${await session(f)}`, init: withAuth(f, c, { method: 'DELETE' }) }),
  },
  {
    method: 'GET',
    route: '/v1/stores/{storeId}/events',
    expect: authed(200, 200, 403, 200, 200),
    prepare: async (f, c) => ({ path: `${A(f)}/events`, init: withAuth(f, c, { headers: { accept: 'text/event-stream' } }) }),
  },
  {
    method: 'GET',
    route: '/v1/stores/{storeId}/sessions',
    expect: adminOnly(200),
    prepare: async (f, c) => {
      await session(f);
      return { path: `${A(f)}/sessions`, init: withAuth(f, c) };
    },
  },
  {
    method: 'POST',
    route: '/v1/stores/{storeId}/feed-tokens',
    expect: authed(201, 201, 403, 201),
    prepare: async (f, c) => ({ path: `${A(f)}/feed-tokens`, init: withAuth(f, c, { method: 'POST' }) }),
  },
];

async function mintFeedToken(storeId: string, token: string): Promise<string> {
  const res = await call(server, `/v1/stores/${storeId}/feed-tokens`, { method: 'POST', headers: bearer(token) });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

async function fixture(): Promise<Fixture> {
  const storeId = await adminStore(server);
  const read = await issueToken(server, storeId, 'read');
  const write = await issueToken(server, storeId, 'write');
  const revoked = await issueToken(server, storeId, 'write');
  const feedRevoked = await mintFeedToken(storeId, revoked.token);
  await revokeToken(server, storeId, revoked.id);
  return {
    storeId,
    tokens: {
      none: undefined,
      bad: 'not-a-token-' + 'x'.repeat(32),
      read: read.token,
      write: write.token,
      other: otherToken,
      revoked: revoked.token,
      admin: ADMIN,
      feed: await mintFeedToken(storeId, read.token),
      feedRevoked,
    },
  };
}

async function send(p: Prepared): Promise<{ status: number; type: string | null; wwwAuth: string | null; body: string }> {
  const abort = new AbortController();
  const res = await server.fetch(p.path, { ...p.init, signal: abort.signal });
  const type = res.headers.get('content-type');
  // A live feed never ends: its status and headers are the answer.
  const body = type?.startsWith('text/event-stream') ? '' : await res.text();
  abort.abort();
  return { status: res.status, type, wwwAuth: res.headers.get('www-authenticate'), body };
}

const rowName = (r: Row) => `${r.method.padEnd(6)} ${r.route.padEnd(54)} ${CREDS.map((c) => `${c}=${r.expect[c]}`).join(' ')}`;

describe('access matrix (route × caller → status)', () => {
  it('covers every route of the OpenAPI document', () => {
    const doc = JSON.parse(readFileSync(`${REPO_ROOT}/openapi/openapi.json`, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const covered = new Set(ROWS.map((r) => `${r.method} ${r.route}`));
    expect(documented.filter((r) => !covered.has(r))).toEqual([]);
  });

  it.each(ROWS.map((r) => [rowName(r), r] as const))('%s', async (_name, row) => {
    const f = await fixture();
    const actual = {} as Record<Cred, number>;
    for (const cred of CREDS) {
      const prepared = await row.prepare(f, cred);
      if (FEED_CREDS.includes(cred)) prepared.path += `${prepared.path.includes('?') ? '&' : '?'}access_token=${f.tokens[cred]}`;
      const res = await send(prepared);
      actual[cred] = res.status;
      const where = `${row.method} ${row.route} as ${cred}: ${res.status} ${res.body.slice(0, 200)}`;
      if (res.status >= 400) expect(res.type, where).toMatch(/^application\/problem\+json/);
      if (res.status === 401) expect(res.wwwAuth, where).toMatch(/^Bearer /);
      if (res.status === 403) expect(JSON.parse(res.body).type, where).toBe('https://keysync.dev/problems/forbidden');
      if (row.route.endsWith('/events') && res.status === 200) expect(res.type, where).toMatch(/^text\/event-stream/);
    }
    expect(actual).toEqual(row.expect);
  });
});
