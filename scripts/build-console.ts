/**
 * Builds the web console (console/src → console/public/console.js) with
 * esbuild. The output is committed so the server needs no build step to
 * serve /console; `--check` fails when the committed file differs from a
 * fresh build (CI's drift check, also run by test/console).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
export const CONSOLE_BUNDLE = `${root}console/public/console.js`;

export async function buildConsole(): Promise<string> {
  const result = await build({
    entryPoints: [`${root}console/src/main.ts`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    conditions: ['keysync-source'],
    logLevel: 'warning',
  });
  return result.outputFiles[0]!.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const fresh = await buildConsole();
  if (process.argv.includes('--check')) {
    const committed = await readFile(CONSOLE_BUNDLE, 'utf8').catch(() => '');
    if (committed !== fresh) {
      console.error('console/public/console.js is stale: run `npm run console:build` and commit it');
      process.exit(1);
    }
    console.log('console/public/console.js is up to date');
  } else {
    await writeFile(CONSOLE_BUNDLE, fresh);
    console.log(`console/public/console.js: ${fresh.length} bytes`);
  }
}
