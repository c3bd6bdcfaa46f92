/**
 * Start-up settings that could never work, request timeouts as documented,
 * logs without keys, and numbers in URLs only as plain decimal integers.
 */
import { connect } from 'node:net';
import { OpenAPIHono } from '@hono/zod-openapi';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readEnv } from '../../src/env.js';
import { handleError } from '../../src/http/error-mapping.js';
import { call, json, newStore, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { spawnServer, tempDir, exitWithin, type ServerProcess } from '../support/process.js';

const env = useTestServer();

describe('admin token', () => {
  it.each(['a token with spaces in it', 'tab\tseparated-token-here', 'ünïcödé-token-0123456789', 'line\nbreak-token-0123456789', 'short'])(
    'refuses %j at start-up, naming the variable',
    (token) => {
      expect(() => readEnv({ KEYSYNC_ADMIN_TOKEN: token })).toThrow(/KEYSYNC_ADMIN_TOKEN/);
    },
  );

  it('accepts what a bearer header carries', () => {
    expect(readEnv({ KEYSYNC_ADMIN_TOKEN: 'Abc-._~+/0123456789==' }).KEYSYNC_ADMIN_TOKEN).toBe('Abc-._~+/0123456789==');
  });
});

describe('numbers in URLs', () => {
  it.each(['0x10', '1e1', '', ' 1', '+1', '-1', '1.0', 'Infinity'])('refuses %j as limit, since and batch cursor with 400', async (bad) => {
    const storeId = await newStore(env.server);
    await put(env.server, storeId, 'k', 1);
    const q = encodeURIComponent(bad);
    for (const path of [`/v1/stores/${storeId}/keys?limit=${q}`, `/v1/stores?limit=${q}`, `/v1/stores/${storeId}/events?since=${q}`]) {
      const res = await call(env.server, path);
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(JSON.stringify(res.body.errors)).toMatch(/plain decimal integer/);
    }
    const hs = await call(env.server, `/v1/stores/${storeId}/sync`, json({ have: {} }));
    if (bad.trim() !== '') {
      const res = await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/${q}`);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
    }
    expect((await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/0`)).status).toBe(200);
    expect((await call(env.server, `/v1/stores/${storeId}/keys?limit=10`)).status).toBe(200);
  });
});

describe('logs', () => {
  it('an internal error is logged with the route pattern, not the path that carries the key', async () => {
    const app = new OpenAPIHono();
    app.onError(handleError);
    app.get('/v1/stores/:storeId/keys/*', () => {
      throw new Error('boom');
    });
    const logged: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: string) => void logged.push(line));
    try {
      const res = await app.request('/v1/stores/58c4b668-ca6b-5f9d-8989-3a4a0ff13619/keys/secret%2Fkey-name');
      expect(res.status).toBe(500);
    } finally {
      spy.mockRestore();
    }
    expect(logged).toHaveLength(1);
    expect(logged[0]).not.toMatch(/secret/);
    expect(JSON.parse(logged[0]!).route).toBe('/v1/stores/:storeId/keys/*');
  });
});

describe('request timeouts (a real server process)', () => {
  const procs: ServerProcess[] = [];
  afterAll(async () => {
    for (const p of procs) {
      p.kill('SIGTERM');
      await exitWithin(p, 10_000);
    }
  });

  /** Seconds from connecting until the server closes a connection that trickles `head` (and, after it, a body). */
  async function secondsUntilCut(url: string, head: string, body: boolean): Promise<number> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    const started = performance.now();
    let sent = 0;
    const text = body ? head : head.slice(0, -4);
    const step = () => {
      if (!body && sent < text.length) socket.write(text[sent++]!);
      if (body) socket.write(sent++ === 0 ? head : 'a');
    };
    step();
    const trickle = setInterval(step, 500);
    await new Promise((r) => socket.once('close', r));
    clearInterval(trickle);
    return (performance.now() - started) / 1000;
  }

  it('cuts trickled headers within 10 s (+ about 1 s) and a trickled body within KEYSYNC_REQUEST_TIMEOUT_MS (+ about 1 s)', async () => {
    const plain = spawnServer({ KEYSYNC_DATA_DIR: tempDir() });
    const short = spawnServer({ KEYSYNC_DATA_DIR: tempDir(), KEYSYNC_REQUEST_TIMEOUT_MS: '30000' });
    procs.push(plain, short);
    const [plainUrl, shortUrl] = await Promise.all([plain.listening, short.listening]);
    const head =
      'PUT /v1/stores/58c4b668-ca6b-5f9d-8989-3a4a0ff13619/keys/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n';
    const [headers, body] = await Promise.all([secondsUntilCut(plainUrl, head, false), secondsUntilCut(shortUrl, head, true)]);
    console.log(`headers cut after ${headers.toFixed(1)} s (docs: 10 s), body after ${body.toFixed(1)} s (KEYSYNC_REQUEST_TIMEOUT_MS 30 s)`);
    expect(headers).toBeGreaterThan(9);
    expect(headers).toBeLessThan(13);
    expect(body).toBeGreaterThan(29);
    expect(body).toBeLessThan(34);
  }, 90_000);
});
