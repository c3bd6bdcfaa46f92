/**
 * Fuzzing every route of the OpenAPI document with fast-check: requests built
 * from the schemas (valid-ish) and malformed ones (bad JSON, wrong types,
 * unknown or missing fields, huge strings, deep nesting, invalid UTF-8 in
 * bodies and in percent-encoding, negative and huge cursors and revs, bad
 * headers and tokens). For every request:
 *   - an answer within the per-request timeout (no hang),
 *   - never a 5xx,
 *   - every 4xx is application/problem+json with a matching `status`,
 *   - a rejected request (4xx) leaves the store's data exactly as it was.
 * KEYSYNC_FUZZ_RUNS scales the cases per route (default 40) for longer soaks.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { REPO_ROOT } from '../support/process.js';
import type { TestServer } from '../support/server.js';
import { HUGE, mutate, schemaArbitrary, weird, type OpenApiDoc, type Operation } from './openapi-arbitrary.js';
import { ADMIN, admin, adminStore, issueToken, startSecured } from './support.js';

const RUNS_PER_ROUTE = Number(process.env.KEYSYNC_FUZZ_RUNS ?? 40);
const TIMEOUT_MS = 10_000;
const doc = JSON.parse(readFileSync(`${REPO_ROOT}/openapi/openapi.json`, 'utf8')) as OpenApiDoc;

let db: TestDatabase;
let server: TestServer;
let otherStore: string;
let otherToken: string;
const victimConfig = { scope: '00000000-0000-4000-8000-0000000f0220', name: 'victim' };
const fx = { storeId: '', read: '', write: '', writeId: '', sessionId: '' };
const stats = { cases: 0, byStatus: new Map<number, number>(), rejectedChecked: 0 };

/** The victim store with keys of every kind, tokens and a session half-way; recreated when a fuzz case legitimately removes them. */
async function ensureFixtures(): Promise<void> {
  const [store] = await db.database.rows('select id from stores where id = $1', [fx.storeId || '00000000-0000-0000-0000-000000000000']);
  if (!store) {
    const reg = await call(server, '/v1/stores', json({ config: victimConfig }, { headers: admin }));
    expect([200, 201]).toContain(reg.status);
    fx.storeId = reg.body.storeId;
    const ops = [
      { op: 'put', key: 'json', value: { a: [1, 2, { b: 'c' }] } },
      { op: 'put', key: 'a/b c/ü', value: 'unicode' },
      { op: 'put', key: 'bytes', base64: Buffer.from([0, 255, 1]).toString('base64'), contentType: 'application/x-bin' },
      { op: 'put', key: 'gone', value: 1 },
      { op: 'delete', key: 'gone' },
      ...Array.from({ length: 6 }, (_, i) => ({ op: 'put', key: `k${i}`, value: i })),
    ];
    expect((await call(server, `/v1/stores/${fx.storeId}/writes`, json({ ops }, { headers: admin }))).status).toBe(200);
  }
  const tokenIds = new Set((await db.database.rows<{ id: string }>('select id from tokens where store_id = $1', [fx.storeId])).map((r) => r.id));
  if (!fx.read || !tokenIds.has(fx.writeId) || tokenIds.size < 2) {
    fx.read = (await issueToken(server, fx.storeId, 'read')).token;
    const write = await issueToken(server, fx.storeId, 'write');
    fx.write = write.token;
    fx.writeId = write.id;
  }
  const [session] = await db.database.rows<{ done: boolean }>('select acked >= batches - 1 as done from sync_sessions where id = $1', [
    fx.sessionId || '00000000-0000-0000-0000-000000000000',
  ]);
  if (!session || session.done) {
    const hs = await call(server, `/v1/stores/${fx.storeId}/sync`, json({ have: {}, batchSize: 2 }, { headers: admin }));
    expect(hs.status).toBe(201);
    fx.sessionId = hs.body.sessionId;
  }
}

/** Everything a request could change about the victim store, as one string. */
async function snapshot(): Promise<string> {
  const [row] = await db.database.rows<{ s: string }>(
    `select md5(concat_ws('|',
       (select count(*) from stores),
       (select concat_ws(',', head_rev, purged_rev, last_ts_us, options::text, config::text) from stores where id = $1),
       (select string_agg(concat_ws(',', key, rev, ts_us, deleted, json, encode(bytes, 'hex'), content_type), ';' order by key) from entries where store_id = $1),
       (select string_agg(concat_ws(',', id, hash, scope), ';' order by id) from tokens where store_id = $1),
       (select string_agg(concat_ws(',', id, delivered, acked, acked_keys, batches), ';' order by id) from sync_sessions where store_id = $1),
       (select count(*) from sync_chunks)
     )) as s`,
    [fx.storeId],
  );
  return row!.s;
}

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startSecured(db, { limits: { batchTimeoutMs: 600_000 } });
  otherStore = await adminStore(server);
  otherToken = (await issueToken(server, otherStore, 'write')).token;
  await ensureFixtures();
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

// ---- request pieces ------------------------------------------------------------------------

const pct = fc.constantFrom('%', '%G1', '%C3%28', '%ED%A0%80', '%FF%FE', '%E0%A4%A', '%00', '%2e%2e', '%2F', '..', '%25', '%C0%AF');
// Long, but the request head stays under node's 16 KiB header limit (beyond it node answers 431 itself; see slow-clients.test.ts).
const garbageSegment = fc.oneof(pct, fc.string({ maxLength: 20 }).map(encodeURIComponent), fc.constant('x'.repeat(3000)), fc.constant(''));
const uuid = fc.uuid();

function pathParam(name: string): fc.Arbitrary<string> {
  switch (name) {
    case 'storeId':
      return fc.oneof(
        { arbitrary: fc.constant('@victim'), weight: 8 },
        { arbitrary: fc.constant('@other'), weight: 1 },
        { arbitrary: uuid, weight: 1 },
        { arbitrary: garbageSegment, weight: 1 },
      );
    case 'key':
      return fc.oneof(
        { arbitrary: fc.constantFrom('json', 'a/b c/ü', 'bytes', 'gone', 'k1', 'missing').map(encodeURIComponent), weight: 4 },
        { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeURIComponent), weight: 2 },
        { arbitrary: fc.constant(encodeURIComponent('é'.repeat(600))), weight: 1 }, // 1200 bytes > 1024
        { arbitrary: garbageSegment, weight: 3 },
      );
    case 'sessionId':
      return fc.oneof({ arbitrary: fc.constant('@session'), weight: 6 }, { arbitrary: uuid, weight: 1 }, { arbitrary: garbageSegment, weight: 1 });
    case 'tokenId':
      return fc.oneof({ arbitrary: fc.constant('@writeId'), weight: 1 }, { arbitrary: uuid, weight: 2 }, { arbitrary: garbageSegment, weight: 2 });
    case 'cursor':
      return fc.oneof(
        fc.constantFrom('0', '1', '2', '5', '-1', '2147483647', '2147483648', '1e3', '1.5', 'abc', '99999999999999999999', '0x1', ' 1'),
        fc.integer({ min: -10, max: 10 }).map(String),
      );
    default:
      return garbageSegment;
  }
}

const numberish = fc.oneof(
  fc.constantFrom('0', '1', '-1', '1.5', '1e3', 'abc', '', '9007199254740993', '99999999999999999999', 'NaN', '0x10', ' 2', '%00'),
  fc.integer({ min: -5, max: 100 }).map(String),
);
function queryValue(name: string): fc.Arbitrary<string> {
  if (name === 'since' || name === 'limit') return numberish;
  return fc.oneof(fc.string({ maxLength: 20 }), pct, fc.constant(HUGE.slice(0, 3000)), fc.constantFrom('k', 'a/', '', '%00', 'a\u0000b'));
}

const authorization = fc.oneof(
  { arbitrary: fc.constant(`Bearer ${ADMIN}`), weight: 12 },
  { arbitrary: fc.constant('@write'), weight: 2 },
  { arbitrary: fc.constant('@read'), weight: 2 },
  { arbitrary: fc.constant(`@other`), weight: 1 },
  { arbitrary: fc.constantFrom(undefined, 'Bearer', 'Bearer nope', 'Basic YTpi', `Bearer ${ADMIN} x`, 'Bearer ' + 'A'.repeat(3000)), weight: 2 },
);
const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 8 },
  {
    arbitrary: fc.constantFrom(
      undefined,
      'text/plain',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/problem+json',
      'application/octet-stream',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'garbage',
      'application/json;;;',
    ),
    weight: 3,
  },
);
const revHeader = fc.constantFrom('"1"', 'W/"2"', '*', '"abc"', '"-1"', '"99999999999999999999"', '1', '', '"1", "2"');
const lastEventId = fc.constantFrom('0', '1', '-1', 'abc', '1e3', '99999999999999999999', '9007199254740991', '');

const invalidUtf8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0, 0x80, 0xf0, 0x28, 0x8c, 0x28]);
function body(schema: unknown): fc.Arbitrary<string | Uint8Array | undefined> {
  const valid = schema ? schemaArbitrary(doc, schema as Record<string, unknown>) : fc.jsonValue({ maxDepth: 3 });
  const text = (v: unknown) => {
    try {
      return JSON.stringify(v) ?? 'null';
    } catch {
      return 'null';
    }
  };
  return fc.oneof(
    { arbitrary: valid.map(text), weight: 6 },
    { arbitrary: valid.chain(mutate).map(text), weight: 6 },
    { arbitrary: fc.constantFrom('{', '{"a":', '[1,2', 'nul', '{"a":1}}', "{'a':1}", '\u0000', '', '{"a":1,}', '1 2', '"\\ud800"'), weight: 2 },
    {
      arbitrary: valid.map((v) => {
        // Invalid UTF-8 inside a JSON string, and as a whole body.
        const t = text(v);
        const at = Math.max(0, t.indexOf('"') + 1);
        return Buffer.concat([Buffer.from(t.slice(0, at)), invalidUtf8, Buffer.from(t.slice(at))]);
      }),
      weight: 2,
    },
    { arbitrary: fc.constant(new Uint8Array(invalidUtf8)), weight: 1 },
    { arbitrary: fc.integer({ min: 1000, max: 200_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}

interface FuzzRequest {
  method: string;
  path: string;
  query: Array<[string, string]>;
  headers: Record<string, string | undefined>;
  body: string | Uint8Array | undefined;
}

function requestArbitrary(route: string, method: string, op: Operation): fc.Arbitrary<FuzzRequest> {
  const params = op.parameters ?? [];
  const names = [...route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const pathArb = fc.tuple(...names.map(pathParam)).map((values) => names.reduce((p, n, i) => p.replace(`{${n}}`, values[i]!), route));
  const queryArb = fc
    .tuple(
      fc
        .subarray(params.filter((p) => p.in === 'query').map((p) => p.name))
        .chain((qs) => fc.tuple(...qs.map((q) => queryValue(q).map((v) => [q, v] as [string, string])))),
      fc.option(fc.tuple(fc.constantFrom('unknown', 'since', 'limit', '__proto__'), queryValue('x')), { nil: undefined }),
    )
    .map(([qs, extra]) => (extra ? [...qs, extra] : qs));
  const headerArb = fc.record(
    {
      authorization,
      'content-type': contentType,
      'if-match': revHeader,
      'if-none-match': revHeader,
      'last-event-id': lastEventId,
      accept: fc.constantFrom('text/event-stream', 'application/json', '*/*', 'text/html'),
    },
    { requiredKeys: ['authorization'] },
  );
  const schema = op.requestBody ? Object.values(op.requestBody.content)[0]?.schema : undefined;
  const bodyArb = method === 'get' || method === 'head' ? fc.constant(undefined) : body(schema);
  return fc.record({ method: fc.constant(method.toUpperCase()), path: pathArb, query: queryArb, headers: headerArb, body: bodyArb });
}

// ---- running one case ----------------------------------------------------------------------------

function materialise(req: FuzzRequest): { url: string; init: RequestInit } {
  const path = req.path
    .replaceAll('@victim', fx.storeId)
    .replaceAll('@other', otherStore)
    .replaceAll('@session', fx.sessionId)
    .replaceAll('@writeId', fx.writeId);
  const qs = req.query.map(([k, v]) => `${encodeURIComponent(k)}=${v.startsWith('%') ? v : encodeURIComponent(v)}`).join('&');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    headers[k] = v === '@write' ? `Bearer ${fx.write}` : v === '@read' ? `Bearer ${fx.read}` : v === '@other' ? `Bearer ${otherToken}` : v;
  }
  return { url: `${server.url}${path}${qs ? `?${qs}` : ''}`, init: { method: req.method, headers, body: req.body as BodyInit | undefined } };
}

let previous = '';
async function runCase(req: FuzzRequest): Promise<void> {
  const { url, init } = materialise(req);
  const before = await snapshot();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  let status: number;
  let type: string | null;
  let text = '';
  try {
    const res = await fetch(url, { ...init, signal: abort.signal });
    status = res.status;
    type = res.headers.get('content-type');
    if (type?.startsWith('text/event-stream'))
      abort.abort(); // a live feed: the headers are the answer
    else text = await res.text();
  } catch (err) {
    if (abort.signal.aborted) throw new Error(`no answer within ${TIMEOUT_MS} ms: ${req.method} ${url.slice(0, 200)}`);
    throw new Error(`transport error (${String((err as Error).cause ?? err)}) on ${req.method} ${url.slice(0, 200)}; previous request: ${previous}`);
  } finally {
    previous = `${req.method} ${url.slice(0, 150)} len=${url.length} hdr=${JSON.stringify(init.headers).length} body=${typeof req.body === 'string' ? req.body.length : req.body?.length}`;
    clearTimeout(timer);
  }
  stats.cases++;
  stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
  const where = `${req.method} ${url.slice(0, 300)} -> ${status} ${text.slice(0, 300)}`;
  expect(status, where).toBeLessThan(500);
  if (status >= 400) {
    expect(type, where).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(text) as { type: string; title: string; status: number };
    expect(problem.status, where).toBe(status);
    expect(problem.type, where).toMatch(/^https:\/\/keysync\.dev\/problems\/[a-z-]+$/);
    expect(typeof problem.title, where).toBe('string');
    expect(await snapshot(), `rejected request changed data: ${where}`).toBe(before);
    stats.rejectedChecked++;
  } else if (status < 300) {
    await ensureFixtures(); // a successful delete or revoke may have removed the fixtures
  }
}

const operations = Object.entries(doc.paths).flatMap(([route, ops]) => Object.entries(ops).map(([method, op]) => ({ route, method, op })));

describe('fuzzing every route from the OpenAPI document', () => {
  it.each(operations.map((o) => [`${o.method.toUpperCase()} ${o.route}`, o] as const))(
    '%s: no 5xx, no hang, problem+json on 4xx, rejected requests change nothing',
    async (_name, { route, method, op }) => {
      await fc.assert(fc.asyncProperty(requestArbitrary(route, method, op), runCase), { numRuns: RUNS_PER_ROUTE, endOnFailure: true });
    },
    120_000,
  );

  it('ran and reported the cases', () => {
    const total = [...stats.byStatus.values()].reduce((a, b) => a + b, 0);
    console.log(
      `fuzz: ${stats.cases} requests over ${operations.length} routes; ${stats.rejectedChecked} rejected with data unchanged; by status ${JSON.stringify(Object.fromEntries([...stats.byStatus].sort(([a], [b]) => a - b)))}`,
    );
    expect(total).toBe(stats.cases);
    expect(stats.cases).toBeGreaterThanOrEqual(operations.length * RUNS_PER_ROUTE);
    // Both sides are exercised: accepted and rejected requests.
    expect([...stats.byStatus.keys()].some((s) => s < 300)).toBe(true);
    expect(stats.rejectedChecked).toBeGreaterThan(stats.cases / 4);
  });
});
