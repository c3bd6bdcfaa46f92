/**
 * Writes openapi/openapi.json from the route definitions (the same document
 * GET /openapi.json serves). With --check, fails when the committed file
 * differs, so CI catches a route change that was not regenerated.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../src/openapi.js';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi', 'openapi.json');
const text = JSON.stringify(openApiDocument(), null, 2) + '\n';

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    /* missing counts as stale */
  }
  if (committed !== text) {
    console.error('openapi/openapi.json is stale: run `npm run openapi` and commit the result');
    process.exit(1);
  }
  console.log('openapi/openapi.json is up to date');
} else {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
