import type { App, AppDeps } from '../deps.js';
import { authorize } from '../http/auth.js';
import { getStore } from '../store/stores.js';
import { listOpenSessions } from '../sync/sessions.js';
import { listSessionsRoute } from './sessions.routes.js';

export function registerSessionHandlers(app: App, deps: AppDeps): void {
  const { db } = deps.database;
  app.use('/v1/stores/:storeId/sessions', authorize({ db, adminToken: deps.adminToken, guard: deps.guard }, 'admin'));

  app.openapi(listSessionsRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const items = await listOpenSessions(db, storeId, deps.limits.batchTimeoutMs);
    if (items.length === 0) await getStore(db, storeId); // 404 for a missing store
    return c.json({ items }, 200);
  });
}
