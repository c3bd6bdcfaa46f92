import type { App, AppDeps } from '../deps.js';
import { notFound } from '../errors.js';
import { authorize } from '../http/auth.js';
import { jsonBody } from '../http/json-body.js';
import { requireJson, limitBody } from '../http/request.js';
import { getStore } from '../store/stores.js';
import { createToken, listTokens, revokeToken } from '../store/tokens.js';
import { createTokenRoute, listTokensRoute, revokeTokenRoute } from './tokens.routes.js';

export function registerTokenHandlers(app: App, deps: AppDeps): void {
  const { db } = deps.database;
  const admin = authorize({ db, adminToken: deps.adminToken, guard: deps.guard }, 'admin');
  app.on(['GET', 'POST'], '/v1/stores/:storeId/tokens', admin);
  app.on('DELETE', '/v1/stores/:storeId/tokens/:tokenId', admin);
  app.post('/v1/stores/:storeId/tokens', requireJson, limitBody(4096, 'The request body'), jsonBody({ maxDepth: deps.limits.maxJsonDepth, envelope: 1 }));

  app.openapi(createTokenRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    return c.json(await createToken(db, storeId, c.req.valid('json').scope), 201);
  });

  app.openapi(listTokensRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const items = await listTokens(db, storeId);
    if (items.length === 0) await getStore(db, storeId); // 404 for a missing store
    return c.json({ items }, 200);
  });

  app.openapi(revokeTokenRoute, async (c) => {
    const { storeId, tokenId } = c.req.valid('param');
    if (!(await revokeToken(db, storeId, tokenId, deps.hub.instance))) {
      await getStore(db, storeId);
      throw notFound(`token ${tokenId}`);
    }
    // This instance at once; the others on the `revoked` notice.
    deps.hub.endStore(storeId, 'revoked', (s) => s.tokenId === tokenId);
    return c.body(null, 204);
  });
}
