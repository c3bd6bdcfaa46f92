/** Small helpers for talking JSON to a test server. */
import { storeId as deriveStoreId, type StoreConfig } from '@keysync/protocol';
import type { TestServer } from './server.js';

export const json = (body: unknown, init: RequestInit = {}): RequestInit => ({
  ...init,
  method: init.method ?? 'POST',
  headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
  body: JSON.stringify(body),
});

export async function call<T = any>(server: TestServer, path: string, init?: RequestInit): Promise<{ status: number; body: T; res: Response }> {
  const res = await server.fetch(path, init);
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, res };
}

let counter = 0;
/** Registers a new store (unique config) and returns its id. */
export async function newStore(server: TestServer, options?: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const config: StoreConfig = { scope: '00000000-0000-4000-8000-000000000000', name: `store-${process.pid}-${++counter}-${Math.random()}`, ...extra };
  const res = await call(server, '/v1/stores', json({ config, ...(options ? { options } : {}) }));
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  const id = deriveStoreId(config);
  if (res.body.storeId !== id) throw new Error('store id mismatch');
  return id;
}

export const keyPath = (storeId: string, key: string) => `/v1/stores/${storeId}/keys/${encodeURIComponent(key)}`;

export async function put(server: TestServer, storeId: string, key: string, value: unknown) {
  const res = await call(server, keyPath(storeId, key), json(value, { method: 'PUT' }));
  if (res.status !== 200) throw new Error(`put failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { key: string; rev: number; ts: string };
}

export async function del(server: TestServer, storeId: string, key: string) {
  const res = await call(server, keyPath(storeId, key), { method: 'DELETE' });
  if (res.status !== 200) throw new Error(`delete failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { key: string; rev: number; ts: string; deleted: true };
}

export async function bulk(server: TestServer, storeId: string, ops: unknown[]) {
  const res = await call(server, `/v1/stores/${storeId}/writes`, json({ ops }));
  if (res.status !== 200) throw new Error(`bulk failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.results as Array<{ key: string; rev: number; ts: string; deleted?: true }>;
}
