/**
 * A byte value's content type goes back out as a header on every read, so
 * every write route checks it (RFC 9110 media type, ASCII, bounded) and
 * refuses a bad one with 400; nothing stored can make a read fail.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { applyWrites } from '../../src/store/writes.js';
import { call, json, keyPath, newStore } from '../support/http.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();
const BYTES = Buffer.from('hello').toString('base64');

const BAD = [
  'text/plain\r\nX-Injected: 1',
  'text/plain\nx',
  'tëxt/plain',
  'text/plain; charset=ütf-8',
  'text',
  'text/',
  '/plain',
  'text/plain; charset',
  'text/plain; charset="unterminated',
  'text/plain;;',
  'text /plain',
  'a/' + 'b'.repeat(300),
];
const GOOD = ['text/plain', 'text/plain; charset=utf-8', 'application/vnd.x.y+zip;a=1;b="two \\"quoted\\" words"', 'IMAGE/PNG', 'x-custom/x.y-z_1'];

/** A PUT with a raw Content-Type header (fetch normalises or refuses some). */
function putRaw(path: string, contentType: string) {
  const url = new URL(env.server.url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'PUT', path, headers: { 'content-type': Buffer.from(contentType, 'latin1').toString('latin1') } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end('hello');
  });
}

describe('content types are checked when written', () => {
  it.each(BAD)('refuses %j in a bulk write with 400, and stores nothing', async (contentType) => {
    const storeId = await newStore(env.server);
    const res = await call(env.server, `/v1/stores/${storeId}/writes`, json({ ops: [{ op: 'put', key: 'k', base64: BYTES, contentType }] }));
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(res.body.errors)).toMatch(/ops\.0\.contentType/);
    expect((await call(env.server, keyPath(storeId, 'k'))).status).toBe(404);
  });

  it.each(BAD.filter((t) => !/[\r\n]/.test(t)))('refuses %j as the Content-Type of a PUT with 400', async (contentType) => {
    const storeId = await newStore(env.server);
    const res = await putRaw(keyPath(storeId, 'k'), contentType);
    expect(res.status, res.body).toBe(400);
    expect(res.body).toMatch(/Content-Type/);
    expect((await call(env.server, keyPath(storeId, 'k'))).status).toBe(404);
  });

  it.each(GOOD)('stores %j and serves it back on GET', async (contentType) => {
    const storeId = await newStore(env.server);
    expect((await call(env.server, `/v1/stores/${storeId}/writes`, json({ ops: [{ op: 'put', key: 'bulk', base64: BYTES, contentType }] }))).status).toBe(200);
    expect((await putRaw(keyPath(storeId, 'single'), contentType)).status).toBe(200);
    for (const key of ['bulk', 'single']) {
      const res = await env.server.fetch(keyPath(storeId, key));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(contentType);
      expect(await res.text()).toBe('hello');
    }
  });

  it('serves a content type stored before these checks as application/octet-stream, not a 500', async () => {
    const storeId = await newStore(env.server);
    await applyWrites(env.db.database.db, storeId, [{ op: 'put', key: 'old', bytes: Buffer.from('hello'), contentType: 'text/plain\r\nX-Injected: 1' }]);
    const res = await env.server.fetch(keyPath(storeId, 'old'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('x-injected')).toBeNull();
    expect(await res.text()).toBe('hello');
  });
});
