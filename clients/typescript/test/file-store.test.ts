import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../src/stores/file.js';
import { del, describeLocalStore, put } from './support/local-store-contract.js';
import { useTmpDirs } from './support/tmp-dir.js';

const tmp = useTmpDirs();

async function openAt(dir: string, compactAfterBytes?: number): Promise<FileStore> {
  const store = await FileStore.open(dir, compactAfterBytes === undefined ? {} : { compactAfterBytes });
  tmp.onCleanup(() => store.close());
  return store;
}

describeLocalStore('FileStore', async () => {
  const dir = await tmp.make();
  const store = await openAt(dir);
  return {
    store,
    reopen: async () => {
      await store.close();
      return openAt(dir);
    },
  };
});

describe('FileStore', () => {
  it('writes one log line per batch, with the checkpoint in the same line as its data', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    await store.applyBatch([put('a', 1), put('b', 2)], { checkpoint: 2 });
    const log = await readFile(join(dir, 'log-0.jsonl'), 'utf8');
    expect(log.split('\n')).toHaveLength(2);
    expect(JSON.parse(log.split('\n')[0]!)).toEqual({
      records: [
        { key: 'a', rev: 1, ts: put('a', 1).ts, value: 'v1' },
        { key: 'b', rev: 2, ts: put('b', 2).ts, value: 'v2' },
      ],
      checkpoint: 2,
    });
  });

  it('writes nothing for a batch that changes nothing', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    await store.applyBatch([put('a', 3)], { checkpoint: 3 });
    const before = await readFile(join(dir, 'log-0.jsonl'), 'utf8');
    await store.applyBatch([put('a', 2)], { checkpoint: 3 });
    expect(await readFile(join(dir, 'log-0.jsonl'), 'utf8')).toBe(before);
  });

  it('compacts into a snapshot past the size limit, drops the old log, and reopens to the same state', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir, 300);
    for (let rev = 1; rev <= 20; rev++) await store.applyBatch([put(`k${rev % 5}`, rev)], { checkpoint: rev });
    await store.applyBatch([del('k0', 21)], { checkpoint: 21 });
    const files = await readdir(dir);
    expect(files).toContain('snapshot.json');
    expect(files.filter((f) => f.startsWith('log-'))).toHaveLength(1);
    expect(files).not.toContain('log-0.jsonl');
    const expected = await Promise.all(['k0', 'k1', 'k2', 'k3', 'k4'].map((k) => store.get(k)));
    await store.close();
    const again = await openAt(dir);
    expect(await Promise.all(['k0', 'k1', 'k2', 'k3', 'k4'].map((k) => again.get(k)))).toEqual(expected);
    expect(await again.getCheckpoint()).toBe(21);
  });

  it('persists forgetRevisions through a reopen', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    await store.applyBatch([put('a', 9), del('b', 10)], { checkpoint: 10 });
    await store.forgetRevisions();
    await store.close();
    const again = await openAt(dir);
    expect(await again.get('a')).toEqual({ ...put('a', 9), rev: 0 });
    expect(await again.get('b')).toBeUndefined();
    expect(await again.getCheckpoint()).toBeUndefined();
  });

  it('refuses to open a directory twice in one process', async () => {
    const dir = await tmp.make();
    await openAt(dir);
    await expect(FileStore.open(dir)).rejects.toThrow(/already open/);
  });

  it('serializes concurrent batches so none is lost', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.applyBatch([put(`k${i}`, i + 1)])));
    await store.close();
    const again = await openAt(dir);
    expect(Object.keys(await again.have())).toHaveLength(50);
  });
});
