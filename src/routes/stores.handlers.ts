import { assertStoreConfig, storeId as deriveStoreId } from '@keysync/protocol';
import { validate as isUuid } from 'uuid';
import type { ApiServices } from '../api-services.js';
import type { App } from '../http/app-env.js';
import { validationProblem } from '../http/problem.js';
import { deleteStore, getStore, listStores, registerStore, updateOptions } from '../store/stores.js';
import { deleteStoreRoute, getStoreRoute, listStoresRoute, patchStoreRoute, registerStoreRoute } from './stores.routes.js';

export function registerStoreHandlers(app: App, services: ApiServices): void {
  const { db } = services.database;

  app.openapi(registerStoreRoute, async (c) => {
    const { config, options } = c.req.valid('json');
    try {
      assertStoreConfig(config);
    } catch (err) {
      throw validationProblem([{ path: 'config', message: (err as Error).message }]);
    }
    // PostgreSQL jsonb cannot hold U+0000: refuse it rather than fail with a 500.
    if (holdsNul(config)) throw validationProblem([{ path: 'config', message: 'config must not contain U+0000' }]);
    const id = deriveStoreId(config);
    const { store, created } = await registerStore(db, id, config, options ?? {});
    return c.json(store, created ? 201 : 200);
  });

  app.openapi(listStoresRoute, async (c) => {
    const { after, limit } = c.req.valid('query');
    // Store ids are UUIDs; comparing a uuid column with anything else is a database error, not a 500.
    if (after !== undefined && !isUuid(after)) throw validationProblem([{ path: 'after', message: 'must be a store id (UUID)' }]);
    return c.json(await listStores(db, after, limit), 200);
  });

  app.openapi(getStoreRoute, async (c) => c.json(await getStore(db, c.req.valid('param').storeId), 200));

  app.openapi(patchStoreRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const { store, optionsVersion } = await updateOptions(db, storeId, c.req.valid('json').options, services.hub.instance);
    services.policies.forget(storeId);
    // Open feeds filter with the old options: they end with `reset`, and their clients
    // handshake again with `have` (removed: newly excluded keys; stale: newly included).
    // Here at once; the other instances on the `options` notice.
    services.hub.optionsChanged(storeId, optionsVersion);
    return c.json(store, 200);
  });

  app.openapi(deleteStoreRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    await deleteStore(db, storeId, services.hub.instance);
    services.policies.forget(storeId);
    services.hub.storeDeleted(storeId);
    return c.body(null, 204);
  });
}

function holdsNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(holdsNul);
  if (v && typeof v === 'object') return Object.entries(v).some(([k, item]) => k.includes('\u0000') || holdsNul(item));
  return false;
}
