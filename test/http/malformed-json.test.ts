/**
 * One error per mistake: the same malformed body gets the same status,
 * problem type, title and detail on every route that takes JSON.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, json, keyPath, newStore } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();
let storeId: string;
let sessionId: string;
beforeAll(async () => {
  storeId = await newStore(env.server);
  const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }));
  sessionId = hs.body.sessionId;
});

/** Every route that takes a JSON body. */
const routes = (): Array<[string, string]> => [
  ['POST', '/v1/stores'],
  ['PATCH', `/v1/stores/${storeId}`],
  ['POST', `/v1/stores/${storeId}/tokens`],
  ['PUT', keyPath(storeId, 'k')],
  ['POST', `/v1/stores/${storeId}/writes`],
  ['POST', `/v1/stores/${storeId}/sync`],
  ['POST', `/v1/stores/${storeId}/sync/${sessionId}/ack`],
];

/** Arrays nested `n` deep (2,000 fit the 4 KiB cap of the ack and token bodies). */
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

/** Malformed bodies, with the answer each must get everywhere. */
const KINDS: Array<{ kind: string; body: string | Uint8Array<ArrayBuffer>; status: number; type: string; title: string; detail: RegExp }> = [
  {
    kind: 'empty body',
    body: '',
    status: 400,
    type: 'bad-request',
    title: 'Malformed JSON',
    detail: /^The body is not valid JSON: the text is empty at line 1, column 1$/,
  },
  {
    kind: 'only whitespace',
    body: ' \n ',
    status: 400,
    type: 'bad-request',
    title: 'Malformed JSON',
    detail: /^The body is not valid JSON: the text is empty at line 2, column 2$/,
  },
  {
    kind: 'truncated',
    body: '{"a": [1, 2',
    status: 400,
    type: 'bad-request',
    title: 'Malformed JSON',
    detail: /^The body is not valid JSON: unexpected end of the text at line 1, column 12$/,
  },
  {
    kind: 'trailing garbage',
    body: '{"a": 1} x',
    status: 400,
    type: 'bad-request',
    title: 'Malformed JSON',
    detail: /^The body is not valid JSON: unexpected text after the JSON value at line 1, column 10$/,
  },
  {
    kind: 'not JSON at all',
    body: 'hello',
    status: 400,
    type: 'bad-request',
    title: 'Malformed JSON',
    detail: /^The body is not valid JSON: unexpected character 'h' at line 1, column 1$/,
  },
  {
    kind: 'JavaScript, not JSON',
    body: "{a: 'b'}",
    status: 400,
    type: 'bad-request',
    title: 'Malformed JSON',
    detail: /^The body is not valid JSON: expected a member name in double quotes at line 1, column 2$/,
  },
  {
    kind: 'trailing comma',
    body: '{"a":1,}',
    status: 400,
    type: 'bad-request',
    title: 'Malformed JSON',
    detail: /^The body is not valid JSON: expected a member name in double quotes at line 1, column 8$/,
  },
  {
    kind: 'not UTF-8',
    body: new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]),
    status: 400,
    type: 'bad-request',
    title: 'Malformed JSON',
    detail: /^The body is not valid JSON: the body is not valid UTF-8/,
  },
  {
    kind: 'too deep',
    body: deep(2000),
    status: 400,
    type: 'json-too-deep',
    title: 'JSON Too Deep',
    detail:
      /^JSON values, configs and options may nest at most 256 arrays and objects \(KEYSYNC_MAX_JSON_DEPTH\); this body goes deeper at line 1, column \d+$/,
  },
];

describe('malformed JSON bodies get one answer on every JSON route', () => {
  for (const k of KINDS) {
    it(`${k.kind}`, async () => {
      const details = new Set<string>();
      for (const [method, path] of routes()) {
        const res = await call(env.server, path, { method, headers: { 'content-type': 'application/json' }, body: k.body });
        const where = `${method} ${path}`;
        const problem = expectProblem(res, k.status, k.type);
        expect(problem.title, where).toBe(k.title);
        expect(problem.detail, where).toMatch(k.detail);
        expect(problem.errors, where).toBeUndefined();
        if (k.kind !== 'too deep') details.add(problem.detail!);
      }
      // The detail depends on the body only (too deep: where the body passes the limit depends on the route's envelope).
      if (k.kind !== 'too deep') expect([...details]).toHaveLength(1);
    });
  }

  it('a body that is not declared JSON: 415 on every route whose body must be JSON (a key PUT stores it as bytes)', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      for (const [method, path] of routes()) {
        const res = await call(env.server, path, { method, headers: type ? { 'content-type': type } : {}, body: '{}' });
        if (method === 'PUT') {
          expect(res.status, `${method} ${path} ${type}`).toBe(200);
          continue;
        }
        const problem = expectProblem(res, 415, 'unsupported-media-type');
        expect(problem.title).toBe('Unsupported Media Type');
        expect(problem.detail).toBe('Send the body as application/json');
      }
    }
  });

  it('writes nothing on any of these', async () => {
    const before = (await call(env.server, `/v1/stores/${storeId}`)).body.headRev;
    for (const k of KINDS)
      await call(env.server, `/v1/stores/${storeId}/writes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: k.body });
    expect((await call(env.server, `/v1/stores/${storeId}`)).body.headRev).toBe(before);
  });
});
