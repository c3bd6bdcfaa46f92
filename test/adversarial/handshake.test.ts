/**
 * The handshake's input: `have` timestamps compared as instants (any RFC 3339
 * spelling of the server's ts), non-timestamps refused naming the key, a body
 * mixing `have` and `since` told what to do, oversized bodies refused before
 * they are read, and concurrent large handshakes bounded by a byte budget.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, json, newStore, put } from '../support/http.js';
import { startServer, useTestServer, type TestServer } from '../support/server.js';

const env = useTestServer();

/** Another spelling of a server ts `…SS.ffffffZ`: the same instant at `offset` (+hh:mm / -hh:mm). */
function respell(ts: string, offsetMinutes: number, fractionDigits = 6): string {
  const micros = Number(ts.slice(20, 26));
  const local = new Date(Date.parse(ts.slice(0, 19) + 'Z') + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const fraction = fractionDigits === 0 ? '' : '.' + String(micros).padStart(6, '0').padEnd(fractionDigits, '0').slice(0, fractionDigits);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${local}${fraction}${zone}`;
}

describe('have timestamps are compared as instants', () => {
  it('takes any RFC 3339 spelling of the server ts as the same write, and a different instant as stale', async () => {
    const storeId = await newStore(env.server);
    const { ts } = await put(env.server, storeId, 'k', 1);
    const same = [
      ts,
      ts.replace('Z', '+00:00'),
      ts.replace('Z', '-00:00'),
      ts.replace('Z', 'z').replace('T', 't'),
      ts.replace('Z', '000Z'),
      respell(ts, 60),
      respell(ts, -330),
      respell(ts, 14 * 60, 9),
    ];
    for (const spelling of same) {
      const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: { k: spelling } }));
      expect(hs.status, spelling).toBe(201);
      expect(hs.body.stale, spelling).toEqual([]);
    }
    const micros = Number(ts.slice(20, 26));
    const other = [ts.slice(0, 20) + String((micros + 1) % 1_000_000).padStart(6, '0') + 'Z', ts.replace('Z', '001Z'), ts.replace('Z', '+01:00')];
    for (const spelling of other) {
      const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: { k: spelling } }));
      expect(hs.body.stale, spelling).toEqual(['k']);
    }
  });

  it.each([
    'garbage',
    '',
    '2026-02-30T00:00:00Z',
    '2026-11-26 07:31:34',
    '2026-11-26T07:31:34.1234567890Z',
    '2026-11-26T25:00:00Z',
    '2026-11-26T07:31:34+24:00',
  ])('refuses %j with 400 naming the key', async (value) => {
    const storeId = await newStore(env.server);
    const res = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: { 'users/1': value } }));
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.errors).toEqual([{ path: 'have.users/1', message: expect.stringMatching(/RFC 3339/) }]);
  });
});

describe('a body with both have and since', () => {
  it('is told to send either have or since', async () => {
    const storeId = await newStore(env.server);
    const res = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {}, since: 1 }));
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: '(body)', message: 'send either "have" or "since", not both' }]);
  });
});

/** Sends a request head (and part of a body) on a raw socket; resolves with the status line as soon as an answer starts. */
function rawRequest(url: string, head: string, body = ''): { answer: Promise<string>; socket: ReturnType<typeof connect> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  socket.write(head + body);
  const answer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\r\n\r\n')) resolve(text);
    });
    socket.on('close', () => resolve(text));
  });
  return { answer, socket };
}

describe('large handshake bodies', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startServer(env.db, { limits: { handshakeBytes: 1_000_000 } });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('refuses a Content-Length over the limit at once, without reading the body', async () => {
    const storeId = await newStore(env.server);
    const head = `POST /v1/stores/${storeId}/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n`;
    const { answer, socket } = rawRequest(env.server.url, head, '{"have":{');
    const started = performance.now();
    const text = await answer;
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 413/);
    expect(text).toMatch(/payload-too-large/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('answers 503 with Retry-After to a handshake that would take the handshakes in progress past KEYSYNC_HANDSHAKE_BYTES', async () => {
    const storeId = await newStore(small);
    await put(small, storeId, 'k', 1);
    const head = (length: number) =>
      `POST /v1/stores/${storeId}/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    // A 600 kB handshake whose body is still arriving holds its share of the budget.
    const entries = Array.from({ length: 12_000 }, (_, i) => `"key-${String(i).padStart(8, '0')}":"2026-11-26T07:31:34.123456Z"`).join(',');
    const body = `{"have":{${entries}}}`;
    const first = rawRequest(small.url, head(body.length), body.slice(0, 1000));
    await new Promise((r) => setTimeout(r, 300));
    const second = await call(small, `/v1/stores/${storeId}/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(second.status, JSON.stringify(second.body)).toBe(503);
    expect(second.res.headers.get('retry-after')).toBe('1');
    expect(second.body.detail).toMatch(/KEYSYNC_HANDSHAKE_BYTES/);
    // Once the first one completes, the budget is free again.
    first.socket.write(body.slice(1000));
    expect(await first.answer).toMatch(/^HTTP\/1\.1 201/);
    first.socket.destroy();
    expect((await call(small, `/v1/stores/${storeId}/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(201);
  });
});

describe('a large handshake body (read off the event loop) gets the answers a small one gets', () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startServer(env.db, { limits: { maxHaveKeys: 3, maxJsonDepth: 20 } });
  });
  afterAll(async () => {
    await strict?.close();
  });

  // Whitespace after the text changes no position in an answer; it takes the body past 256 KiB.
  const padding = ' '.repeat(300 * 1024);
  const ts = '2026-11-26T07:31:34.123456Z';
  const cases: Array<[string, string | Uint8Array<ArrayBuffer>]> = [
    ['text after the value', `{"have":{}} x`],
    ['a bad escape', `{"have":{"a\\q":"${ts}"}}`],
    ['nesting past the limit', `{"have":${'['.repeat(30)}${']'.repeat(30)}}`],
    ['have and since', `{"have":{},"since":1}`],
    ['a have value that is no timestamp', `{"have":{"users/1":"garbage"}}`],
    ['a have value that is no string', `{"have":{"users/1":5}}`],
    ['have not an object', `{"have":[1,2]}`],
    ['more keys than KEYSYNC_MAX_HAVE_KEYS', `{"have":{"a":"${ts}","b":"${ts}","c":"${ts}","d":"${ts}"}}`],
    ['a bad batchSize', `{"have":{"a":"${ts}"},"batchSize":0}`],
    ['a batchSize past the most a client may ask', `{"have":{"a":"${ts}"},"batchSize":100001}`],
    ['a batchSize that is no integer', `{"have":{"a":"${ts}"},"batchSize":1.5}`],
    ['an inline that is no boolean', `{"have":{"a":"${ts}"},"inline":"yes"}`],
    ['a prefix that is no string', `{"have":{"a":"${ts}"},"prefix":5}`],
    ['a prefix too long', `{"have":{"a":"${ts}"},"prefix":"${'p'.repeat(1025)}"}`],
    ['a have value too long', `{"have":{"a":"${ts}${' '.repeat(64)}"}}`],
    ['an unknown field', `{"have":{},"extra":true}`],
    ['no have and no since', `{"prefix":"a"}`],
    ['a body that is an array', `[{"have":{}}]`],
  ];

  it.each(cases)('%s', async (_, small) => {
    const storeId = await newStore(strict);
    const send = (body: string | Uint8Array<ArrayBuffer>) =>
      call(strict, `/v1/stores/${storeId}/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const expected = await send(small);
    expect(expected.status).toBeGreaterThanOrEqual(400);
    const large = await send(typeof small === 'string' ? small + padding : small);
    expect(large.status).toBe(expected.status);
    expect(large.body).toEqual(expected.body);
  });

  // Maps the worker reads off the text (have-text.ts) or, past what that takes, parses whole: the same sync either way.
  const accepted: Array<[string, (held: string) => string]> = [
    ['escaped keys and spaces between tokens', (held) => `{ "have" : { "\\u0061" : "${held}" ,\n"b\\"q" :"${ts}", "\\ud800":"${ts}" } }`],
    ['a key named twice (the last counts)', (held) => `{"have":{"a":"${ts}","b":"${ts}","a":"${held}"}}`],
    ['a key named twice, past KEYSYNC_MAX_HAVE_KEYS members', (held) => `{"have":{"a":"${ts}","a":"${held}","":"${ts}","__proto__":"${ts}"}}`],
    ['have named twice', (held) => `{"have":{"x":"${ts}"},"prefix":"","have":{"a":"${held}","1":"${ts}"}}`],
    ['a prefix', (held) => `{"prefix":"a","have":{"a":"${held}","a\\u0000":"${ts}","b":"${ts}"}}`],
    ['the fields the TS client sends', (held) => `{"have":{"a":"${held}","gone":"${ts}"},"listStale":false,"inline":true}`],
  ];

  it.each(accepted)('%s', async (_, bodyOf) => {
    const storeId = await newStore(strict);
    const { ts: held } = await put(strict, storeId, 'a', 1);
    await put(strict, storeId, 'b"q', 2);
    const send = async (body: string) => {
      const res = await call(strict, `/v1/stores/${storeId}/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return { stale: res.body.stale, removed: [...res.body.removed].sort() };
    };
    const expected = await send(bodyOf(held));
    expect(await send(bodyOf(held) + padding)).toEqual(expected);
  });

  it('invalid UTF-8', async () => {
    const storeId = await newStore(strict);
    const bytes = (extra: number) => {
      const text = new TextEncoder().encode(`{"have":{"a":"x"}}${' '.repeat(extra)}`);
      text[12] = 0xff;
      return text;
    };
    const send = (body: Uint8Array<ArrayBuffer>) =>
      call(strict, `/v1/stores/${storeId}/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const expected = await send(bytes(0));
    expect(expected.status).toBe(400);
    expect(await send(bytes(300 * 1024))).toMatchObject({ status: 400, body: expected.body });
  });

  it('a large valid body, sent chunked, syncs as a small one does', async () => {
    const storeId = await newStore(strict);
    const { ts: held } = await put(strict, storeId, 'a', 1);
    await put(strict, storeId, 'b', 2);
    const text = `{"have":{"a":"${held}","gone":"${ts}"},"prefix":""}` + padding;
    const chunks = [text.slice(0, 100_000), text.slice(100_000)];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const res = await call(strict, `/v1/stores/${storeId}/sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.stale).toEqual(['b']);
    expect(res.body.removed).toEqual(['gone']);
  });
});
