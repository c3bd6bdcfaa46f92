import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readSse, SseDecoder, StalledError, type SseItem } from '../src/sse.js';

const decode = (text: string, lastEventId?: string): SseItem[] => {
  const d = new SseDecoder(lastEventId);
  return [...d.push(text), ...d.end()];
};

const stream = (chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(typeof c === 'string' ? new TextEncoder().encode(c) : c);
      controller.close();
    },
  });

describe('SseDecoder', () => {
  it('decodes the feed frames of the contract exactly', () => {
    const frames =
      'event: put\nid: 7\ndata: {"key":"a","rev":7,"ts":"t","value":1}\n\n' +
      'event: delete\nid: 8\ndata: {"key":"a","rev":8,"ts":"t","deleted":true}\n\n' +
      'event: ready\ndata: {"headRev":8}\n\n';
    expect(decode(frames)).toEqual([
      { kind: 'event', event: 'put', data: '{"key":"a","rev":7,"ts":"t","value":1}', lastEventId: '7' },
      { kind: 'event', event: 'delete', data: '{"key":"a","rev":8,"ts":"t","deleted":true}', lastEventId: '8' },
      { kind: 'event', event: 'ready', data: '{"headRev":8}', lastEventId: '8' },
    ]);
  });

  it('reports an id-only heartbeat block as a move of Last-Event-ID', () => {
    expect(decode(': ping\nid: 42\n\n')).toEqual([
      { kind: 'comment', text: 'ping' },
      { kind: 'id', lastEventId: '42' },
    ]);
  });

  it('carries the last id to later events that have none, as EventSource does', () => {
    const items = decode(': ping\nid: 42\n\nevent: ready\ndata: {}\n\n');
    expect(items.at(-1)).toEqual({ kind: 'event', event: 'ready', data: '{}', lastEventId: '42' });
  });

  it('starts from the given Last-Event-ID', () => {
    expect(decode('data: x\n\n', '5')).toEqual([{ kind: 'event', event: 'message', data: 'x', lastEventId: '5' }]);
  });

  it('resets the id on an empty id field and ignores ids containing NUL', () => {
    expect(decode('id\n\nid: a\0b\n\n', '9')).toEqual([{ kind: 'id', lastEventId: '' }]);
  });

  it('joins multi-line data with newlines', () => {
    expect(decode('data: a\ndata:b\ndata\n\n')).toEqual([{ kind: 'event', event: 'message', data: 'a\nb\n', lastEventId: '' }]);
  });

  it('accepts CRLF and CR line endings', () => {
    const expected = [{ kind: 'event', event: 'put', data: 'x', lastEventId: '1' }];
    expect(decode('event: put\r\nid: 1\r\ndata: x\r\n\r\n')).toEqual(expected);
    expect(decode('event: put\rid: 1\rdata: x\r\r')).toEqual(expected);
  });

  it('gives the same items however the text is split into chunks', () => {
    const text = 'event: put\r\nid: 3\r\ndata: {"a":1}\r\n\r\n: ping\nid: 4\n\nretry: 2500\nevent: ready\ndata: {}\r\r';
    const whole = decode(text);
    for (let i = 0; i <= text.length; i++) {
      for (const j of [i, Math.min(text.length, i + 1), Math.min(text.length, i + 5)]) {
        const d = new SseDecoder();
        const items = [...d.push(text.slice(0, i)), ...d.push(text.slice(i, j)), ...d.push(text.slice(j)), ...d.end()];
        expect(items, `split at ${i}/${j}`).toEqual(whole);
      }
    }
  });

  it('reports retry fields', () => {
    expect(decode('retry: 2500\n\n')).toEqual([{ kind: 'retry', ms: 2500 }]);
  });

  it('drops an event cut off by the end of the stream', () => {
    expect(decode('event: put\nid: 9\ndata: {"partial":')).toEqual([]);
    expect(decode('event: put\nid: 9\ndata: x\n')).toEqual([]);
  });

  it('does not dispatch an event without data, as the spec says (the server must send a data line)', () => {
    expect(decode('event: reset\n\n')).toEqual([]);
    expect(decode('event: reset\ndata: \n\n')).toEqual([{ kind: 'event', event: 'reset', data: '', lastEventId: '' }]);
  });

  it('strips a leading byte order mark', () => {
    expect(decode('\uFEFFid: 1\n\n')).toEqual([{ kind: 'id', lastEventId: '1' }]);
  });
});

describe('readSse', () => {
  it('decodes UTF-8 split across chunks and waits for each handler in order', async () => {
    const bytes = new TextEncoder().encode('id: 1\ndata: {"k":"ключ 🔑"}\n\n: ping\nid: 2\n\n');
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    const seen: string[] = [];
    await readSse(stream(chunks), async (item) => {
      await new Promise((r) => setTimeout(r, 1));
      seen.push(item.kind === 'event' ? item.data : item.kind === 'id' ? `id ${item.lastEventId}` : item.kind);
    });
    expect(seen).toEqual(['{"k":"ключ 🔑"}', 'comment', 'id 2']);
  });

  it('rejects with the abort reason and cancels the body when aborted', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('data: first\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const controller = new AbortController();
    const reason = new Error('stop');
    const p = readSse(body, () => controller.abort(reason), { signal: controller.signal });
    await expect(p).rejects.toBe(reason);
    expect(cancelled).toBe(true);
  });

  describe('over a real HTTP response from fetch', () => {
    let server: Server | undefined;
    afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

    it('reads frames as the server flushes them, heartbeats included', async () => {
      server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: put\nid: 1\ndata: {"key":"a"}\n\n');
        setTimeout(() => res.write(': ping\nid: 5\n\n'), 10);
        setTimeout(() => res.end('event: ready\ndata: {"headRev":5}\n\n'), 20);
      }).listen(0, '127.0.0.1');
      await new Promise((r) => server!.once('listening', r));
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`);
      const items: SseItem[] = [];
      await readSse(res.body!, (item) => void items.push(item));
      expect(items).toEqual([
        { kind: 'event', event: 'put', data: '{"key":"a"}', lastEventId: '1' },
        { kind: 'comment', text: 'ping' },
        { kind: 'id', lastEventId: '5' },
        { kind: 'event', event: 'ready', data: '{"headRev":5}', lastEventId: '5' },
      ]);
    });
  });
});

describe('readSse on a silent connection', () => {
  it('rejects with StalledError when no bytes arrive within idleMs, and not while bytes keep coming', async () => {
    let push!: (text: string) => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (text) => controller.enqueue(new TextEncoder().encode(text));
      },
    });
    const items: string[] = [];
    const done = readSse(body, (item) => void items.push(item.kind), { idleMs: () => 150 });
    for (let i = 0; i < 4; i++) {
      push(`: ping\nid: ${i}\n\n`);
      await new Promise((r) => setTimeout(r, 60));
    }
    await expect(done).rejects.toBeInstanceOf(StalledError);
    expect(items.filter((k) => k === 'id')).toHaveLength(4);
  });
});
