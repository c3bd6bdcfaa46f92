/**
 * Slow and stuck clients against the real server process (so its memory is
 * the server's alone, measured as VmRSS from /proc): clients that trickle
 * their headers or body (slowloris), subscribers that never read, and a
 * client that opens sync sessions and never acks. Memory stays bounded,
 * the abusers are cut off, and an honest client beside them is unaffected.
 * Bounds asserted are generous; the measured figures are printed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitWithin, spawnServer, tempDir, type ServerProcess } from '../support/process.js';
import { openFeed } from '../support/sse.js';

const ADMIN = 'admin-token-for-slow-client-tests-0123456789';
const REQUEST_TIMEOUT_MS = 1500;
const PG_URL = process.env.TEST_DATABASE_URL;

let proc: ServerProcess;
let url: string;
let port: number;
const cleanups: Array<() => Promise<void> | void> = [];
const sockets: Socket[] = [];
const figures: string[] = [];

const rssMb = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.child.pid}/status`, 'utf8'));
  return Math.round(Number(m![1]) / 1024);
};
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(path: string, init: RequestInit & { token?: string } = {}) {
  const { token = ADMIN, ...rest } = init;
  const res = await fetch(`${url}${path}`, {
    ...rest,
    headers: { 'content-type': 'application/json', ...auth(token), ...(rest.headers as Record<string, string>) },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** An honest client's round trip (write then read back), in ms. */
async function honestRoundTrip(storeId: string, token: string, i: number): Promise<number> {
  const t = performance.now();
  const w = await api(`/v1/stores/${storeId}/keys/honest-${i}`, { method: 'PUT', body: JSON.stringify({ i }), token });
  expect(w.status).toBe(200);
  const r = await api(`/v1/stores/${storeId}/keys/honest-${i}`, { token });
  expect(r.status).toBe(200);
  return performance.now() - t;
}

function rawSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => {}); // resets are expected: the server cuts these clients off
    s.once('error', reject);
    sockets.push(s);
  });
}

/** Resolves with what the server sent and when it closed the connection. */
function untilClosed(s: Socket): Promise<{ text: string; ms: number }> {
  const t = performance.now();
  let text = '';
  s.on('data', (d) => (text += d.toString()));
  return new Promise((resolve) => s.on('close', () => resolve({ text, ms: performance.now() - t })));
}

beforeAll(async () => {
  const env: Record<string, string> = {
    KEYSYNC_ADMIN_TOKEN: ADMIN,
    KEYSYNC_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    KEYSYNC_SUBSCRIBER_QUEUE: '200',
    KEYSYNC_HEARTBEAT_MS: '1000',
  };
  if (PG_URL) {
    const name = `keysync_slow_${randomBytes(5).toString('hex')}`;
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    cleanups.push(async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    });
    const u = new URL(PG_URL);
    u.pathname = `/${name}`;
    env['DATABASE_URL'] = u.toString();
  } else {
    const dir = tempDir('keysync-slow-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    env['KEYSYNC_DATA_DIR'] = dir;
  }
  proc = spawnServer(env);
  url = await proc.listening;
  port = Number(new URL(url).port);
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  if (proc) {
    proc.kill('SIGTERM');
    await exitWithin(proc, 15_000);
  }
  for (const c of cleanups.reverse()) await c();
  console.log(`slow clients (${PG_URL ? 'PostgreSQL' : 'PGlite'}):\n  ${figures.join('\n  ')}`);
});

async function setup(keys = 0) {
  const reg = await api('/v1/stores', {
    method: 'POST',
    body: JSON.stringify({ config: { scope: '00000000-0000-4000-8000-00000000510e', name: `slow-${Math.random()}` } }),
  });
  expect(reg.status).toBe(201);
  const storeId = reg.body.storeId as string;
  const token = async (scope: 'read' | 'write') =>
    (await api(`/v1/stores/${storeId}/tokens`, { method: 'POST', body: JSON.stringify({ scope }) })).body.token as string;
  for (let i = 0; i < keys; i += 1000) {
    const ops = Array.from({ length: Math.min(1000, keys - i) }, (_, j) => ({ op: 'put', key: `seed/${i + j}`, value: { pad: 'x'.repeat(100) } }));
    expect((await api(`/v1/stores/${storeId}/writes`, { method: 'POST', body: JSON.stringify({ ops }) })).status).toBe(200);
  }
  return { storeId, token };
}

describe('slow and stuck clients', () => {
  it('cuts off clients that trickle their headers or body (408 problem+json) while an honest client goes on', async () => {
    const { storeId, token } = await setup();
    const honest = await token('write');
    const before = rssMb();
    const N = 100;
    const victims = await Promise.all(Array.from({ length: N }, () => rawSocket()));
    const ends = victims.map(untilClosed);
    const trickle = victims.map((s, i) => {
      const headersOnly = i % 2 === 0;
      const head = `PUT /v1/stores/${storeId}/keys/slow-${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${honest}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n`;
      // Half trickle the header lines, half send the headers and trickle the body, a byte at a time.
      const text = headersOnly ? head : `${head}\r\n`;
      let at = headersOnly ? 0 : text.length;
      if (!headersOnly) s.write(text);
      const timer = setInterval(() => {
        if (s.destroyed) return clearInterval(timer);
        s.write(headersOnly ? text[at++ % text.length]! : '1');
      }, 100);
      return timer;
    });
    const latencies: number[] = [];
    for (let i = 0; latencies.length < 20; i++) latencies.push(await honestRoundTrip(storeId, honest, i));
    const peak = rssMb();
    const closed = await Promise.all(ends);
    trickle.forEach(clearInterval);
    for (const c of closed) {
      expect(c.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(c.text).toMatch(/content-type: application\/problem\+json/i);
      expect(c.text).toContain('"type":"https://keysync.dev/problems/request-timeout"');
      expect(c.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 5000);
    }
    // Nothing of the trickled writes was stored.
    expect((await api(`/v1/stores/${storeId}/keys?prefix=slow-`)).body.items).toEqual([]);
    const worst = Math.max(...latencies);
    figures.push(
      `trickling: ${N} connections cut with 408 after ${Math.round(Math.min(...closed.map((c) => c.ms)))}-${Math.round(Math.max(...closed.map((c) => c.ms)))} ms; ` +
        `honest write+read p50 ${Math.round(latencies.sort((a, b) => a - b)[10]!)} ms, max ${Math.round(worst)} ms; RSS ${before} -> ${peak} MB`,
    );
    expect(worst).toBeLessThan(2000);
    expect(peak - before).toBeLessThan(150);
  }, 30_000);

  it('answers headers over the size limit with 431 problem+json', async () => {
    const s = await rawSocket();
    const end = untilClosed(s);
    s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const { text } = await end;
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    expect(text).toContain('"type":"https://keysync.dev/problems/headers-too-large"');
  });

  it('drops subscribers that never read once they fall behind, keeps memory bounded, and the reading subscriber gets every write', async () => {
    const { storeId, token } = await setup();
    const reader = await token('read');
    const writer = await token('write');
    const honest = await openFeed(url, storeId, '', { headers: auth(reader) });
    await honest.waitFor(() => honest.events.some((e) => e.event === 'ready'));
    const before = rssMb();
    const STUCK = 20;
    // Stuck subscribers: send the request, then never read a byte (the socket's buffers fill up).
    const stuck = await Promise.all(Array.from({ length: STUCK }, () => rawSocket()));
    for (const s of stuck) {
      s.write(`GET /v1/stores/${storeId}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${ADMIN}\r\n\r\n`);
      s.pause();
    }
    const metric = async () => Number(/^keysync_live_subscribers (\d+)/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
    for (let i = 0; i < 100 && (await metric()) < STUCK + 1; i++) await sleep(100);
    expect(await metric()).toBe(STUCK + 1);

    // ~16 MB of writes: 4 KB values, 50 per bulk write.
    let peak = before;
    const WRITES = 4000;
    const value = 'v'.repeat(4096);
    for (let i = 0; i < WRITES; i += 50) {
      const ops = Array.from({ length: 50 }, (_, j) => ({ op: 'put', key: `big/${i + j}`, value }));
      const res = await api(`/v1/stores/${storeId}/writes`, { method: 'POST', body: JSON.stringify({ ops }), token: writer });
      expect(res.status).toBe(200);
      if (i % 500 === 0) peak = Math.max(peak, rssMb());
    }
    await honest.waitFor(() => honest.events.filter((e) => e.event === 'put').length >= WRITES, 30_000);
    peak = Math.max(peak, rssMb());
    // The stuck ones were cut off: only the honest subscriber remains.
    for (let i = 0; i < 100 && (await metric()) > 1; i++) await sleep(100);
    const remaining = await metric();
    const puts = honest.events.filter((e) => e.event === 'put');
    const ids = puts.map((e) => Number(e.id));
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    expect(new Set(puts.map((e) => e.data.key)).size).toBe(WRITES);
    honest.close();
    figures.push(`never-reading subscribers: ${STUCK} stuck, ${WRITES} x 4 KB writes; live subscribers after: ${remaining}; RSS ${before} -> peak ${peak} MB`);
    expect(remaining).toBe(1);
    expect(peak - before).toBeLessThan(300);
  }, 60_000);

  it('bounds the sessions of a client that handshakes and never acks, while another client syncs the same store', async () => {
    const { storeId, token } = await setup(2000);
    const abuser = await token('read');
    const honest = await token('read');
    const before = rssMb();
    let opened = 0;
    let refused: { status: number; body: any; headers: Headers } | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const res = await api(`/v1/stores/${storeId}/sync`, { method: 'POST', body: JSON.stringify({ have: {}, batchSize: 100 }), token: abuser });
      if (res.status === 201) opened++;
      else refused = res;
    }
    expect(refused?.status).toBe(429);
    expect(refused?.body.type).toBe('https://keysync.dev/problems/too-many-sessions');
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // The honest client syncs all 2000 keys through batches and acks.
    const hs = await api(`/v1/stores/${storeId}/sync`, { method: 'POST', body: JSON.stringify({ have: {}, batchSize: 500 }), token: honest });
    expect(hs.status).toBe(201);
    let received = 0;
    for (let cursor = 0; cursor < hs.body.batches; cursor++) {
      const batch = await api(`/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/${cursor}`, { token: honest });
      expect(batch.status).toBe(200);
      received += batch.body.entries.length;
      expect(
        (await api(`/v1/stores/${storeId}/sync/${hs.body.sessionId}/ack`, { method: 'POST', body: JSON.stringify({ cursor }), token: honest })).status,
      ).toBe(200);
    }
    expect(received).toBe(2000);
    const after = rssMb();
    figures.push(
      `never-acking client: ${opened} sessions of 2000 keys opened, then 429 too-many-sessions; honest sync of 2000 keys done; RSS ${before} -> ${after} MB`,
    );
    expect(after - before).toBeLessThan(150);
  }, 60_000);
});
