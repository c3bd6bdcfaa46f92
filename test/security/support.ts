/** Helpers for tests of a server with access control on (an admin token and per-store tokens). */
import { expect } from 'vitest';
import { storeId as deriveStoreId } from '@keysync/protocol';
import type { TestDatabase } from '../support/db.js';
import { call, json } from '../support/http.js';
import { startServer, type TestServer } from '../support/server.js';
import type { KeysyncOptions } from '../../src/keysync.js';

export const ADMIN = 'admin-token-for-security-tests-0123456789';

export const bearer = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` });
export const admin = bearer(ADMIN);

export function startSecured(db: TestDatabase, options: KeysyncOptions = {}): Promise<TestServer> {
  return startServer(db, { adminToken: ADMIN, ...options });
}

let counter = 0;
/** Registers a fresh store as admin; returns its id. */
export async function adminStore(server: TestServer, extra: Record<string, unknown> = {}): Promise<string> {
  const config = { scope: '00000000-0000-4000-8000-00000000beef', name: `sec-${process.pid}-${++counter}-${Math.random()}`, ...extra };
  const res = await call(server, '/v1/stores', json({ config }, { headers: admin }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.storeId).toBe(deriveStoreId(config));
  return res.body.storeId as string;
}

export interface Issued {
  id: string;
  token: string;
  scope: 'read' | 'write';
  createdAt: string;
}

export async function issueToken(server: TestServer, storeId: string, scope: 'read' | 'write'): Promise<Issued> {
  const res = await call(server, `/v1/stores/${storeId}/tokens`, json({ scope }, { headers: admin }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Issued;
}

export async function revokeToken(server: TestServer, storeId: string, id: string): Promise<void> {
  const res = await call(server, `/v1/stores/${storeId}/tokens/${id}`, { method: 'DELETE', headers: admin });
  expect(res.status, JSON.stringify(res.body)).toBe(204);
}
