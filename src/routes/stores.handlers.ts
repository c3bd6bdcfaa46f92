import { assertStoreConfig, storeId as deriveStoreId } from '@keysync/protocol';
import { validate as isUuid } from 'uuid';
import type { App, AppDeps } from '../deps.js';
import { validationProblem } from '../errors.js';
import { authorize } from '../http/auth.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody } from '../http/request.js';
import { deleteStore, getStore, listStores, registerStore, updateOptions } from '../store/stores.js';
import { deleteStoreRoute, getStoreRoute, listStoresRoute, patchStoreRoute, registerStoreRoute } from './stores.routes.js';

export function registerStoreHandlers(app: App, deps: AppDeps): void {
  const { db } = deps.database;
  const auth = { db, adminToken: deps.adminToken, guard: deps.guard };
  app.on(['GET', 'POST'], '/v1/stores', authorize(auth, 'admin'));
  app.on(['PATCH', 'DELETE'], '/v1/stores/:storeId', authorize(auth, 'admin'));
  app.on('GET', '/v1/stores/:storeId', authorize(auth, 'read'));
  const body = jsonBody({ maxDepth: deps.limits.maxJsonDepth, envelope: 1 });
  app.post('/v1/stores', limitBody(deps.limits.maxBodyBytes, 'The request body'), body);
  app.patch('/v1/stores/:storeId', limitBody(deps.limits.maxBodyBytes, 'The request body'), body);

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
    const store = await updateOptions(db, storeId, c.req.valid('json').options, deps.hub.instance);
    deps.policies.forget(storeId);
    // Open feeds filter with the old options: they end with `reset`, and their clients
    // handshake again with `have` (removed: newly excluded keys; stale: newly included).
    // Here at once; the other instances on the `options` notice.
    deps.hub.optionsChanged(storeId);
    return c.json(store, 200);
  });

  app.openapi(deleteStoreRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    if (!(await deleteStore(db, storeId, deps.hub.instance))) await getStore(db, storeId); // throws 404
    deps.policies.forget(storeId);
    deps.hub.storeDeleted(storeId);
    return c.body(null, 204);
  });
}

function holdsNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(holdsNul);
  if (v && typeof v === 'object') return Object.entries(v).some(([k, item]) => k.includes('\u0000') || holdsNul(item));
  return false;
}
