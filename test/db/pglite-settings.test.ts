/**
 * The embedded database runs with the settings of src/db/pglite-settings.ts
 * (a small shared_buffers, configurable; one connection's shared memory), in a new folder started from a
 * template as well as in memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { DEFAULT_PGLITE_SHARED_BUFFERS, pgliteSettings } from '../../src/db/pglite-settings.js';
import { dumpPglite } from '../../src/db/template.js';

const opened: Database[] = [];
const folders: string[] = [];
const saved = process.env.KEYSYNC_PGLITE_SHARED_BUFFERS;

afterEach(async () => {
  for (const database of opened.splice(0)) await database.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  if (saved === undefined) delete process.env.KEYSYNC_PGLITE_SHARED_BUFFERS;
  else process.env.KEYSYNC_PGLITE_SHARED_BUFFERS = saved;
});

async function open(options: Parameters<typeof openDatabase>[0] = {}): Promise<Database> {
  const database = await openDatabase(options);
  opened.push(database);
  return database;
}

async function show(database: Database, setting: string): Promise<string> {
  const [row] = await database.rows<Record<string, string>>(`show ${setting}`);
  return Object.values(row!)[0]!;
}

// Each case starts a PGlite (initdb in WebAssembly): slow on a loaded machine.
describe('embedded database settings', { timeout: 180_000 }, () => {
  it('opens with the default shared_buffers, not PostgreSQL’s 128MB', async () => {
    delete process.env.KEYSYNC_PGLITE_SHARED_BUFFERS;
    expect(DEFAULT_PGLITE_SHARED_BUFFERS).not.toBe('128MB');
    expect(await show(await open(), 'shared_buffers')).toBe(DEFAULT_PGLITE_SHARED_BUFFERS);
  });

  it('sizes shared memory for the one connection PGlite has', async () => {
    expect(await show(await open(), 'max_connections')).toBe('1');
  });

  it('takes shared_buffers from KEYSYNC_PGLITE_SHARED_BUFFERS', async () => {
    process.env.KEYSYNC_PGLITE_SHARED_BUFFERS = '24MB';
    expect(await show(await open(), 'shared_buffers')).toBe('24MB');
  });

  it('rejects a size PostgreSQL would not read', () => {
    expect(() => pgliteSettings({ KEYSYNC_PGLITE_SHARED_BUFFERS: '16 MB' })).toThrow(/size/);
    expect(() => pgliteSettings({ KEYSYNC_PGLITE_SHARED_BUFFERS: '16mb' })).toThrow(/size/);
  });

  it('a folder started from a template holds its data and runs with the settings', async () => {
    const source = await open();
    await source.rows('create table seeded (k text primary key)');
    await source.rows("insert into seeded values ('a'), ('b')");
    const template = new Blob([new Uint8Array(await dumpPglite(source))]);
    const dataDir = mkdtempSync(join(tmpdir(), 'keysync-settings-'));
    folders.push(dataDir);
    process.env.KEYSYNC_PGLITE_SHARED_BUFFERS = '8MB';
    const started = await open({ dataDir, pgliteTemplate: template });
    expect(await started.rows('select k from seeded order by k')).toEqual([{ k: 'a' }, { k: 'b' }]);
    expect(await show(started, 'shared_buffers')).toBe('8MB');
    expect(await show(started, 'max_connections')).toBe('1');
    await started.close();
    opened.pop();
    // Reopened without the template: the unpacked folder is a complete database.
    const reopened = await open({ dataDir });
    expect(await reopened.rows('select count(*)::int as n from seeded')).toEqual([{ n: 2 }]);
  });
});
