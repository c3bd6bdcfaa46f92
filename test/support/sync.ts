/**
 * Thin wrappers over the sync routes (handshake, batches, acks, status,
 * cancel) that return the raw status and body, so tests assert on the wire.
 */
import { expect } from 'vitest';
import { PROBLEM_TYPE_BASE } from '@keysync/protocol';
import type { HandshakeResponse } from '@keysync/protocol';
import { call, json } from './http.js';
import type { TestServer } from './server.js';

/** A handshake's answer as the tests ask for it: with its stale list (listStale is not false). */
export type HandshakeBody = HandshakeResponse & { stale: string[] };

export interface BatchEntry {
  key: string;
  rev: number;
  ts: string;
  value?: unknown;
  base64?: string;
  contentType?: string;
  deleted?: true;
}

export const sessionPath = (storeId: string, sessionId: string) => `/v1/stores/${storeId}/sync/${sessionId}`;

export function handshake(server: TestServer, storeId: string, body: Record<string, unknown>) {
  return call(server, `/v1/stores/${storeId}/sync`, json(body));
}

/** A handshake that must succeed (201). */
export async function startSync(server: TestServer, storeId: string, body: Record<string, unknown>): Promise<HandshakeBody> {
  const res = await handshake(server, storeId, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as HandshakeBody;
}

export function fetchBatch(server: TestServer, storeId: string, sessionId: string, cursor: number) {
  return call<{ cursor: number; entries: BatchEntry[]; next: number | null }>(server, `${sessionPath(storeId, sessionId)}/batches/${cursor}`);
}

export function ack(server: TestServer, storeId: string, sessionId: string, cursor: number) {
  return call<{ acked: number; next: number | null; remaining: number; done: boolean }>(server, `${sessionPath(storeId, sessionId)}/ack`, json({ cursor }));
}

export function sessionStatus(server: TestServer, storeId: string, sessionId: string) {
  return call(server, sessionPath(storeId, sessionId));
}

export function cancel(server: TestServer, storeId: string, sessionId: string) {
  return call(server, sessionPath(storeId, sessionId), { method: 'DELETE' });
}

/** Asserts a problem+json answer with this status and problem kind. */
export function expectProblem(res: { status: number; body: any; res: Response }, status: number, kind: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body.type).toBe(PROBLEM_TYPE_BASE + kind);
  expect(res.body.status).toBe(status);
}

/** Fetches and acks every batch of a session in order; returns every entry. */
export async function drain(server: TestServer, storeId: string, hs: HandshakeBody): Promise<BatchEntry[]> {
  const all: BatchEntry[] = [];
  for (let cursor = 0; cursor < hs.batches; cursor++) {
    const batch = await fetchBatch(server, storeId, hs.sessionId, cursor);
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    all.push(...batch.body.entries);
    const acked = await ack(server, storeId, hs.sessionId, cursor);
    expect(acked.status, JSON.stringify(acked.body)).toBe(200);
  }
  return all;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
