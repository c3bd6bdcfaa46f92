import type { ApiServices } from '../api-services.js';
import type { App } from '../http/app-env.js';
import { listOpenSessions } from '../sync/sessions.js';
import { listSessionsRoute } from './sessions.routes.js';

export function registerSessionHandlers(app: App, services: ApiServices): void {
  const { db } = services.database;

  app.openapi(listSessionsRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    return c.json({ items: await listOpenSessions(db, storeId, services.limits.batchTimeoutMs) }, 200);
  });
}
