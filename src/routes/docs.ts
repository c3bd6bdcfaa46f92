/**
 * The API reference page (/docs): Scalar's HTML shell, with the reference's
 * browser bundle served by keysync itself from the pinned npm package
 * `@scalar/api-reference`, so the page works offline and behind firewalls
 * (the Scalar integration would otherwise load an unversioned script from a
 * public CDN). Default web fonts are off for the same reason.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { App } from '../http/app-env.js';
import { Scalar } from '@scalar/hono-api-reference';

/** Where the page loads the reference bundle from (same origin). */
export const DOCS_SCRIPT_PATH = '/docs/assets/api-reference.js';

const require = createRequire(import.meta.url);
const SCRIPT_FILE = require.resolve('@scalar/api-reference/browser/standalone.js');

export function registerDocs(app: App, openApiPath: string): void {
  // Read on first request: the bundle is a few MB and most servers never serve it.
  let script: Promise<Buffer> | undefined;
  app.get(DOCS_SCRIPT_PATH, async (c) => {
    script ??= readFile(SCRIPT_FILE);
    const body = await script;
    return c.body(new Uint8Array(body), 200, {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'public, max-age=3600',
    });
  });
  app.get('/docs', Scalar({ url: openApiPath, pageTitle: 'keysync API', cdn: DOCS_SCRIPT_PATH, withDefaultFonts: false, telemetry: false }));
}
