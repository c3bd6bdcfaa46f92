import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { lockDataDir } from '../../src/db/lock.js';
import { migrate, migrationsApplied } from '../../src/db/migrate.js';
import { dumpPglite, templateForNewFolder } from '../../src/db/template.js';
import { createKeysync } from '../../src/keysync.js';
import { tempDir } from '../support/process.js';

// The embedded database's start template (dist/pglite-template.tar, made by
// `npm run build`): a new data folder loads it instead of running initdb.
describe('a new data folder started from the migrated template', () => {
  let root: string;
  let templateFile: string;
  beforeAll(async () => {
    root = tempDir('keysync-template-test-');
    templateFile = join(root, 'template.tar');
    const shared = inject('pgliteTemplate');
    if (shared) {
      writeFileSync(templateFile, readFileSync(shared));
    } else {
      const database = await openDatabase({});
      await migrate(database);
      writeFileSync(templateFile, await dumpPglite(database));
      await database.close();
    }
  }, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is used only for a missing folder or one holding just the lock file', async () => {
    expect(await templateForNewFolder(join(root, 'missing'), templateFile)).toBe(templateFile);
    const locked = join(root, 'locked');
    const release = lockDataDir(locked);
    expect(await templateForNewFolder(locked, templateFile)).toBe(templateFile);
    release();
    const foreign = join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'not a database');
    expect(await templateForNewFolder(foreign, templateFile)).toBeUndefined();
    expect(await templateForNewFolder(join(root, 'missing'), join(root, 'no-such-template.tar'))).toBeUndefined();
  });

  it('keeps what was written across a restart, and the reopened folder is not reloaded', async () => {
    const dataDir = join(root, 'data');
    const release = lockDataDir(dataDir);
    try {
      const first = await createKeysync({ dataDir, pgliteTemplate: await templateForNewFolder(dataDir, templateFile), log: false, housekeepingMs: 0 });
      expect(await migrationsApplied(first.database)).toBe(true);
      const reg = await first.app.request('/v1/stores', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ config: { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', name: 'start-template' } }),
      });
      expect(reg.status).toBe(201);
      const { storeId } = (await reg.json()) as { storeId: string };
      const put = await first.app.request(`/v1/stores/${storeId}/keys/k`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      expect(put.status).toBe(200);
      await first.close({ closeDatabase: true });

      expect(await templateForNewFolder(dataDir, templateFile)).toBeUndefined();
      const second = await createKeysync({ dataDir, log: false, housekeepingMs: 0 });
      const got = await second.app.request(`/v1/stores/${storeId}/keys/k`);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe('{"a":1}');
      await second.close({ closeDatabase: true });
    } finally {
      release();
    }
  }, 120_000);
});
