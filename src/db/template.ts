/**
 * The embedded database's start template: a migrated PGlite data folder,
 * dumped at build time (scripts/pglite-template.ts) to dist/pglite-template.tar.
 * A new data folder is loaded from it instead of running initdb and every
 * migration in WASM (seconds on a small machine); start-up then applies only
 * the migrations added since the build. Without the file (no build yet), a
 * new folder is initialised the slow way.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type { Database } from './client.js';
import { migrationsFolder } from './migrate.js';

export const PGLITE_TEMPLATE_FILE = join(dirname(migrationsFolder()), 'dist', 'pglite-template.tar');

/** A template: a dump in memory (tests), or the path of a dump file. */
export type PgliteTemplate = Blob | string;

/**
 * The template file for `dataDir` when the folder is new (missing, or
 * holding only our lock file), else undefined. A path, not its bytes: the
 * server's options keep it for the process's life, and a copy in memory would
 * stay resident with it.
 */
export async function templateForNewFolder(dataDir: string, templateFile = PGLITE_TEMPLATE_FILE): Promise<string | undefined> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return undefined;
  // Anything but our own lock file means someone else's folder: let PGlite decide.
  if (existsSync(dataDir) && readdirSync(dataDir).some((name) => name !== 'keysync.lock')) return undefined;
  if (!existsSync(templateFile)) return undefined;
  return templateFile;
}

/** The data folder of an open PGlite database as an uncompressed tar. */
export async function dumpPglite(database: Database): Promise<Buffer> {
  if (database.kind !== 'pglite') throw new Error('only an embedded (PGlite) database can be dumped');
  return Buffer.from(await (await database.driverDb.$client.dumpDataDir('none')).arrayBuffer());
}

/**
 * Writes a template (an uncompressed tar from PGlite's dumpDataDir: folders
 * and regular files) into the data folder `dataDir`, which PGlite then opens
 * as an existing folder. PGlite's own loading (`loadDataDir`) copies every
 * file several times inside the process on its way to disk, and the server
 * kept that memory for its whole life; here each file is a view of the one
 * buffer, written straight to disk. A template file is read in one piece: a
 * Blob backed by the file reads in small chunks, which the C allocator then
 * kept in the process's heap (about 30 MB more RSS after 4 of 16 starts
 * from a new folder, none after 24 read in one piece).
 */
export async function unpackTemplate(template: PgliteTemplate, dataDir: string): Promise<void> {
  const tar = typeof template === 'string' ? readFileSync(template) : new Uint8Array(await template.arrayBuffer());
  const text = (from: number, length: number) => new TextDecoder().decode(tar.subarray(from, from + length)).replace(/\0.*$/s, '');
  const root = resolve(dataDir);
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    // ustar header: name (100 bytes), mode (octal, at 100), size (octal, at 124), type (at 156), name prefix (at 345).
    const name = [text(at + 345, 155), text(at, 100)].filter(Boolean).join('/');
    const mode = parseInt(text(at + 100, 8), 8);
    const size = parseInt(text(at + 124, 12), 8);
    const type = String.fromCharCode(tar[at + 156]!);
    const path = resolve(root, `.${sep}${name}`);
    if (!path.startsWith(root + sep)) throw new Error(`template entry ${name} is outside the data folder`);
    if (type === '5') mkdirSync(path, { recursive: true, mode });
    else if (type === '0' || type === '\0') {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, tar.subarray(at + 512, at + 512 + size), { mode });
    } else throw new Error(`template entry ${name} has type ${JSON.stringify(type)}; only folders and files are expected`);
    at += 512 + Math.ceil(size / 512) * 512;
  }
}
