import type { ApiServices } from '../api-services.js';
import type { App } from '../http/app-env.js';
import { createToken, listTokens, revokeToken } from '../store/tokens.js';
import { createTokenRoute, listTokensRoute, revokeTokenRoute } from './tokens.routes.js';

export function registerTokenHandlers(app: App, services: ApiServices): void {
  const { db } = services.database;

  app.openapi(createTokenRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    return c.json(await createToken(db, storeId, c.req.valid('json').scope), 201);
  });

  app.openapi(listTokensRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    return c.json({ items: await listTokens(db, storeId) }, 200);
  });

  app.openapi(revokeTokenRoute, async (c) => {
    const { storeId, tokenId } = c.req.valid('param');
    await revokeToken(db, storeId, tokenId, services.hub.instance);
    // This instance at once; the others on the `revoked` notice.
    services.hub.endStore(storeId, 'revoked', (s) => s.tokenId === tokenId);
    return c.body(null, 204);
  });
}
