/**
 * Type tests of the typed API: every `@ts-expect-error` below is a request
 * shape the generated OpenAPI types must refuse. Checked by the root
 * `npx tsc --noEmit` (an unused `@ts-expect-error` is itself an error, so a
 * case that starts compiling fails the check). The function is never called.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createApiClient, type ApiClient, type KeyValue } from '../src/api.js';
import type { components } from '@keysync/protocol';
import { subscribe } from '../src/sync-client.js';
import { MemoryStore } from '../src/stores/memory.js';

type S = components['schemas'];

async function wrongShapes(api: ApiClient, id: string): Promise<void> {
  // Handshake: `have` or `since`, never both, never neither, with the right types.
  // @ts-expect-error both have and since
  await api.handshake(id, { have: {}, since: 3 });
  // @ts-expect-error neither have nor since
  await api.handshake(id, { prefix: 'a/' });
  // @ts-expect-error since is a rev (number)
  await api.handshake(id, { since: '3' });
  // @ts-expect-error have maps keys to ts strings
  await api.handshake(id, { have: { a: 1 } });
  // @ts-expect-error batchSize is a number
  await api.handshake(id, { have: {}, batchSize: '10' });

  // @ts-expect-error cursors are numbers
  await api.ack(id, 'session', '1');
  // @ts-expect-error cursors are numbers
  await api.batch(id, 'session', '0');

  // @ts-expect-error a store config needs a scope
  await api.registerStore({ config: { name: 'x' } });
  // @ts-expect-error options.filter.prefixes is a list
  await api.registerStore({ config: { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890' }, options: { filter: { prefixes: 'a/' } } });
  // @ts-expect-error PATCH needs `options`
  await api.updateStore(id, {});
  // @ts-expect-error token scopes are read | write
  await api.createToken(id, { scope: 'admin' });

  // @ts-expect-error no such write op
  await api.write(id, { ops: [{ op: 'upsert', key: 'a', value: 1 }] });
  // @ts-expect-error a delete names its key
  await api.write(id, { ops: [{ op: 'delete' }] });
  // @ts-expect-error a bytes put needs its content type
  await api.write(id, { ops: [{ op: 'put', key: 'a', base64: 'AA==', contentType: 1 }] });

  // @ts-expect-error limit is a number
  await api.listKeys(id, { limit: '10' });
  // @ts-expect-error no such query parameter
  await api.listKeys(id, { prefx: 'a/' });
  // @ts-expect-error If-None-Match on a write is only `*`
  await api.putKey(id, 'a', 1, { ifNoneMatch: '"3"' });
  // @ts-expect-error If-Match takes the rev
  await api.deleteKey(id, 'a', { ifMatch: true });
  // @ts-expect-error since is a rev
  await api.events(id, { since: 'now' });

  // The raw openapi-fetch client is typed on the generated paths too.
  // @ts-expect-error no such route
  await api.raw.GET('/v1/store/{storeId}', { params: { path: { storeId: id } } });
  // @ts-expect-error a path parameter is missing
  await api.raw.POST('/v1/stores/{storeId}/sync', { body: { have: {} } });
  // @ts-expect-error no PUT on /v1/stores
  await api.raw.PUT('/v1/stores', { body: {} });
  // @ts-expect-error the ack body is {cursor}
  await api.raw.POST('/v1/stores/{storeId}/sync/{sessionId}/ack', { params: { path: { storeId: id, sessionId: 's' } }, body: { at: 1 } });

  // @ts-expect-error subscribe needs a local store
  subscribe({ baseUrl: 'http://127.0.0.1:8787', storeId: id });
  // @ts-expect-error prefix is a string
  subscribe({ baseUrl: 'http://127.0.0.1:8787', storeId: id, store: new MemoryStore(), prefix: 1 });
}

async function rightShapes(api: ApiClient, id: string): Promise<void> {
  const store = await api.registerStore({ config: { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', path: 'x' } });
  expectTypeOf(store.data).toEqualTypeOf<S['Store'] | undefined>();
  if (store.error) expectTypeOf(store.error.status).toEqualTypeOf<number>();
  const page = await api.listKeys(id, { prefix: 'a/', limit: 10 });
  expectTypeOf(page.data).toEqualTypeOf<S['KeyList'] | undefined>();
  const value = await api.getKey(id, 'a/b');
  expectTypeOf(value.data).toEqualTypeOf<KeyValue | undefined>();
  const raw = await api.raw.GET('/v1/stores/{storeId}/sync/{sessionId}', { params: { path: { storeId: id, sessionId: 's' } } });
  expectTypeOf(raw.data).toEqualTypeOf<S['SessionStatus'] | undefined>();
  await api.write(id, {
    ops: [
      { op: 'put', key: 'a', value: { any: 'json' } },
      { op: 'delete', key: 'b' },
    ],
  });
}

describe('typed API shapes', () => {
  it('are checked by tsc (see the @ts-expect-error cases above)', () => {
    const api = createApiClient({ baseUrl: 'http://127.0.0.1:1' });
    expect(typeof wrongShapes).toBe('function');
    expect(typeof rightShapes).toBe('function');
    expect(typeof api.raw.GET).toBe('function');
  });
});
