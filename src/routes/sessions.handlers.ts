import type { ApiServices } from '../api-services.js';
import type { App } from '../http/app-env.js';
import { getStore } from '../store/stores.js';
import { listOpenSessions } from '../sync/sessions.js';
import { listSessionsRoute } from './sessions.routes.js';

export function registerSessionHandlers(app: App, services: ApiServices): void {
  const { db } = services.database;

  app.openapi(listSessionsRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const items = await listOpenSessions(db, storeId, services.limits.batchTimeoutMs);
    if (items.length === 0) await getStore(db, storeId); // 404 for a missing store
    return c.json({ items }, 200);
  });
}
