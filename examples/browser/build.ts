/**
 * Bundles the example page for the browser with esbuild: main.ts and the
 * @keysync/client sources it imports become one minified ES module.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export interface BuiltPage {
  html: string;
  js: string;
}

export async function buildExample(): Promise<BuiltPage> {
  const result = await build({
    entryPoints: [here('./main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    // The workspace's TypeScript sources (package.json "exports" condition), no build step needed.
    conditions: ['keysync-source'],
  });
  return { html: await readFile(here('./index.html'), 'utf8'), js: result.outputFiles[0]!.text };
}
