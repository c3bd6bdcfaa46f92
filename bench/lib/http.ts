/**
 * Plain HTTP helpers for setting up and driving the server (global fetch,
 * keep-alive), and a fetch wrapper that counts the bytes a client moves.
 */
import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

export interface WriteResult {
  key: string;
  rev: number;
  ts: string;
}

async function ok<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Registers a store with a fresh config; returns its id. */
export async function createStore(baseUrl: string, name: string): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/stores`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ config: { scope: randomUUID(), backend: 'bench', path: name } }),
  });
  return (await ok<{ storeId: string }>(res, 'create store')).storeId;
}

export async function bulkWrite(baseUrl: string, storeId: string, ops: unknown[]): Promise<WriteResult[]> {
  const res = await fetch(`${baseUrl}/v1/stores/${storeId}/writes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ops }),
  });
  return (await ok<{ results: WriteResult[] }>(res, 'bulk write')).results;
}

export async function putKey(baseUrl: string, storeId: string, key: string, body: string): Promise<WriteResult> {
  const res = await fetch(`${baseUrl}/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return ok<WriteResult>(res, 'put');
}

export interface ByteCounter {
  fetch: (input: string, init?: RequestInit) => Promise<Response>;
  /** request + response bytes: bodies exactly, start lines and headers as HTTP/1.1 would frame them */
  sent: number;
  received: number;
  /** response body bytes only */
  bodyReceived: number;
  requests: number;
  reset(): void;
}

const headerBytes = (headers: Headers) => {
  let n = 2; // blank line
  headers.forEach((v, k) => (n += k.length + v.length + 4));
  return n;
};

/**
 * A fetch that counts bytes both ways (body streams are counted as they are read,
 * after fetch decoded any Content-Encoding). `acceptEncoding` replaces the
 * Accept-Encoding fetch sends by default (`gzip, deflate` over http).
 */
export function countingFetch(acceptEncoding?: string): ByteCounter {
  const counter: ByteCounter = {
    sent: 0,
    received: 0,
    bodyReceived: 0,
    requests: 0,
    reset() {
      counter.sent = counter.received = counter.bodyReceived = counter.requests = 0;
    },
    async fetch(input, init) {
      counter.requests++;
      const url = new URL(input);
      const body = typeof init?.body === 'string' ? Buffer.byteLength(init.body) : 0;
      const reqHeaders = new Headers(init?.headers);
      // Start line, Host, Content-Length, and what undici adds (connection, user-agent, accept-*, sec-fetch-mode).
      counter.sent += body + headerBytes(reqHeaders) + `${init?.method ?? 'GET'} ${url.pathname}${url.search} HTTP/1.1\r\n`.length + 120;
      const res = await fetch(input, acceptEncoding ? { ...init, headers: { ...Object.fromEntries(reqHeaders), 'accept-encoding': acceptEncoding } } : init);
      counter.received += `HTTP/1.1 ${res.status} ${res.statusText}\r\n`.length + headerBytes(res.headers);
      if (!res.body) return res;
      const counted = res.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            counter.received += chunk.byteLength;
            counter.bodyReceived += chunk.byteLength;
            controller.enqueue(chunk);
          },
        }),
      );
      return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
    },
  };
  return counter;
}

/**
 * Bytes read and written on every socket this process opens as an HTTP
 * client (fetch's undici and node:http alike), as they went over the wire:
 * compressed bodies, headers and chunk framing. And how many requests went
 * out, by either.
 */
export function socketBytes(): { read(): { read: number; written: number; requests: number } } {
  const sockets = new Set<Socket>();
  let requests = 0;
  subscribe('net.client.socket', (message) => sockets.add((message as { socket: Socket }).socket));
  subscribe('undici:request:create', () => requests++);
  subscribe('http.client.request.start', () => requests++);
  return {
    read() {
      let read = 0;
      let written = 0;
      for (const socket of sockets) {
        read += socket.bytesRead;
        written += socket.bytesWritten;
      }
      return { read, written, requests };
    },
  };
}
