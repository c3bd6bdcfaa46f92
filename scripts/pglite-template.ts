/**
 * Writes dist/pglite-template.tar: an embedded database with every migration
 * applied, dumped by PGlite. `npm run build` makes it, and the server starts
 * a new, empty data folder from it instead of running initdb and the
 * migrations in WASM, which is most of a first start's time. Migrations added
 * after the build are still applied at start-up.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { openDatabase } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { PGLITE_TEMPLATE_FILE, dumpPglite } from '../src/db/template.js';

const database = await openDatabase({});
await migrate(database);
const bytes = await dumpPglite(database);
await database.close();
mkdirSync(dirname(PGLITE_TEMPLATE_FILE), { recursive: true });
writeFileSync(`${PGLITE_TEMPLATE_FILE}.tmp`, bytes);
renameSync(`${PGLITE_TEMPLATE_FILE}.tmp`, PGLITE_TEMPLATE_FILE);
console.log(`wrote ${PGLITE_TEMPLATE_FILE} (${(bytes.length / 1e6).toFixed(1)} MB)`);
