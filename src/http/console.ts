/**
 * The web console's static files (console/public: an HTML page, a stylesheet
 * and the bundle built from console/src), served at /console by the server
 * itself: no CDN, and the same origin as the API, so no CORS set-up.
 * The page holds no secret: it asks for a token and sends it like any client.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import type { App } from './app-env.js';

/** The folder of the console's files, found from this module up to the package root (works from src/ and dist/). */
export function consoleFolder(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'console', 'public');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

// Only its own scripts and the API of its own origin: an injected value cannot load or send anything elsewhere.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function registerConsole(app: App): void {
  const root = consoleFolder();
  if (!root) return;
  app.get('/console', (c) => c.redirect('/console/', 301));
  app.use('/console/*', async (c, next) => {
    await next();
    if (c.res.status === 200) {
      c.res.headers.set('Content-Security-Policy', CSP);
      c.res.headers.set('X-Content-Type-Options', 'nosniff');
      c.res.headers.set('Cache-Control', 'no-cache');
    }
  });
  app.use('/console/*', serveStatic({ root, rewriteRequestPath: (path) => path.slice('/console'.length) || '/' }));
}
