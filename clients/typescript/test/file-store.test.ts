import { existsSync, readFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LocalRecord } from '../src/local-store.js';
import { DATA_FILE, FileStore, REMAP_AFTER_BYTES, REMAP_AFTER_COMMITS } from '../src/stores/file.js';
import { writeLegacyDir } from './support/legacy-file-format.js';
import { del, describeLocalStore, put, ts } from './support/local-store-contract.js';
import { useTmpDirs } from './support/tmp-dir.js';

const tmp = useTmpDirs();

async function openAt(dir: string): Promise<FileStore> {
  const store = await FileStore.open(dir);
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

const bytes = (key: string, rev: number): LocalRecord => ({
  kind: 'bytes',
  key,
  rev,
  ts: ts(rev),
  bytes: new Uint8Array([rev, 0, 255]),
  contentType: 'application/octet-stream',
});

describe('FileStore', () => {
  it('keeps its records in one LMDB file in the directory', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    await store.applyBatch([put('a', 1), bytes('b', 2)], { checkpoint: 2 });
    expect((await readdir(dir)).sort()).toEqual(['replica.lmdb', 'replica.lmdb-lock']);
  });

  it('keeps revs beyond 32 bits exactly', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    const rev = 2 ** 40 + 3;
    await store.applyBatch([put('a', rev)], { checkpoint: rev });
    await store.close();
    const again = await openAt(dir);
    expect((await again.get('a'))?.rev).toBe(rev);
    expect(await again.getCheckpoint()).toBe(rev);
  });

  it('rolls a batch back whole when one of its records cannot be stored, and keeps working', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    await store.applyBatch([put('a', 1)], { checkpoint: 1 });
    const tooLong = 'k'.repeat(3000);
    await expect(store.applyBatch([put('a', 2), put('b', 2), put(tooLong, 3)], { checkpoint: 3 })).rejects.toThrow(/at most 1024 bytes/);
    expect(await store.get('a')).toEqual(put('a', 1));
    expect(await store.get('b')).toBeUndefined();
    expect(await store.getCheckpoint()).toBe(1);
    await store.applyBatch([put('b', 4)], { checkpoint: 4 });
    await store.close();
    const again = await openAt(dir);
    expect(await again.get('a')).toEqual(put('a', 1));
    expect(await again.get('b')).toEqual(put('b', 4));
    expect(await again.getCheckpoint()).toBe(4);
  });

  it('refuses a key the wire does not allow rather than store it altered', async () => {
    const store = await openAt(await tmp.make());
    // UTF-8 has no lone surrogate: stored, it would become U+FFFD and meet the key "\ufffd".
    await expect(store.applyBatch([put('\ud800', 1)], { checkpoint: 1 })).rejects.toThrow(/lone surrogate/);
    await expect(store.applyBatch([put('a\u0000', 1)], { checkpoint: 1 })).rejects.toThrow(/U\+0000/);
    expect(await store.getCheckpoint()).toBeUndefined();
    await store.close();
  });

  it('forgets revisions of more keys than it reads at once, through a reopen', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    const n = 10_000;
    const records = Array.from({ length: n }, (_, i) => (i % 10 === 0 ? del(`k${i}`, i + 1) : put(`k${i}`, i + 1)));
    await store.applyBatch(records, { checkpoint: n });
    await store.forgetRevisions();
    await store.close();
    const again = await openAt(dir);
    const have = await again.have();
    expect(Object.keys(have)).toHaveLength(n - n / 10);
    for (const key of Object.keys(have)) expect((await again.get(key))?.rev, key).toBe(0);
    expect(await again.get('k0')).toBeUndefined();
    expect(await again.get('k9999')).toEqual({ ...put('k9999', 10_000), rev: 0 });
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

  /** Resident MB of this process's mappings of `file` (Linux). */
  const mappedMB = (file: string) => {
    let kb = 0;
    let inFile = false;
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.endsWith(`/${file}`);
      else if (inFile && line.startsWith('Rss:')) kb += Number(line.split(/\s+/)[1]);
    }
    return kb / 1024;
  };

  it.runIf(existsSync('/proc/self/smaps'))(
    'keeps the mapped part of its file bounded while large batches are written',
    async () => {
      const store = await openAt(await tmp.make());
      const value = 'x'.repeat(64 * 1024);
      const perCommit = 128; // 8 MiB a commit, far fewer commits than REMAP_AFTER_COMMITS
      let rev = 0;
      let most = 0;
      for (let c = 0; c < 25; c++) {
        await store.applyBatch(Array.from({ length: perCommit }, (_, i) => put(`k${c}/${i}`, ++rev, value)));
        most = Math.max(most, mappedMB(DATA_FILE));
      }
      // 200 MiB written; without reopening, a third of it stayed mapped (70 MB).
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThan((REMAP_AFTER_BYTES / 1024 / 1024) * 0.75);
      await store.close();
    },
    30_000,
  );

  it('keeps every record and answers reads across the reopens between runs of commits', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    const commits = REMAP_AFTER_COMMITS * 2 + 5;
    let written = 0;
    const writer = (async () => {
      for (let i = 0; i < commits; i++) {
        await store.applyBatch([put(`k${i}`, i + 1)], { checkpoint: i + 1 });
        written = i + 1;
      }
    })();
    // Reads run between the writes, across the reopens.
    let reads = 0;
    while (written < commits) {
      for (let i = 0; i < 50; i++) {
        const seen = written;
        expect(Object.keys(await store.have()).length).toBeGreaterThanOrEqual(seen);
        if (seen > 0) {
          expect(await store.get(`k${seen - 1}`)).toEqual(put(`k${seen - 1}`, seen));
          expect(await store.getCheckpoint()).toBeGreaterThanOrEqual(seen);
        }
        reads++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
    expect(Object.keys(await store.have())).toHaveLength(commits);
    await store.close();
    const again = await openAt(dir);
    expect(Object.keys(await again.have())).toHaveLength(commits);
    expect(await again.getCheckpoint()).toBe(commits);
    expect(await again.get('k0')).toEqual(put('k0', 1));
  });
});

describe('FileStore, directories of the log-based format 1', () => {
  const removedTombstone: LocalRecord = { kind: 'deleted', key: 'gone', rev: 0, ts: null };

  it('migrates snapshot and log on open, leaving out a torn last line, and deletes the old files', async () => {
    const dir = await tmp.make();
    await writeLegacyDir(dir, {
      snapshot: { checkpoint: 3, records: [put('a', 1), bytes('b', 2), del('c', 3)] },
      lines: [{ records: [put('d', 4), removedTombstone], checkpoint: 4 }, { records: [put('a', 5)] }],
      tail: '{"records":[{"key":"torn","rev":9,"ts":"t","value":1}],"checkpoint":9', // no newline: never committed
    });
    await writeFile(join(dir, 'snapshot.json.tmp'), '{"format":1,"gen":2,"checkpoint":99,"records":[]}');
    await writeFile(join(dir, 'log-0.jsonl'), '{"records":[{"key":"old","rev":1,"ts":"t","value":1}],"checkpoint":1}\n');
    const store = await openAt(dir);
    expect(await store.get('a')).toEqual(put('a', 5));
    expect(await store.get('b')).toEqual(bytes('b', 2));
    expect(await store.get('c')).toEqual(del('c', 3));
    expect(await store.get('d')).toEqual(put('d', 4));
    expect(await store.get('gone')).toEqual(removedTombstone);
    expect(await store.get('torn')).toBeUndefined();
    expect(await store.get('old')).toBeUndefined();
    expect(await store.getCheckpoint()).toBe(4);
    expect((await readdir(dir)).sort()).toEqual(['replica.lmdb', 'replica.lmdb-lock']);
    await store.close();
    const again = await openAt(dir);
    expect({ ...(await again.have()) }).toEqual({ a: ts(5), b: ts(2), d: ts(4) });
    expect(await again.getCheckpoint()).toBe(4);
  });

  it('migrates a directory that never compacted (a log without snapshot)', async () => {
    const dir = await tmp.make();
    await writeLegacyDir(dir, { lines: [{ records: [put('a', 1)] }, { records: [put('b', 2)], checkpoint: 2 }] });
    const store = await openAt(dir);
    expect({ ...(await store.have()) }).toEqual({ a: ts(1), b: ts(2) });
    expect(await store.getCheckpoint()).toBe(2);
  });

  it('does not migrate twice: old files left by a crash after the migration committed are only deleted', async () => {
    const dir = await tmp.make();
    await writeLegacyDir(dir, { lines: [{ records: [put('a', 1)], checkpoint: 1 }] });
    const store = await openAt(dir);
    await store.applyBatch([put('a', 2)], { checkpoint: 2 });
    await store.close();
    await writeLegacyDir(dir, { lines: [{ records: [put('a', 1), put('z', 1)], checkpoint: 1 }] });
    const again = await openAt(dir);
    expect(await again.get('a')).toEqual(put('a', 2));
    expect(await again.get('z')).toBeUndefined();
    expect(await again.getCheckpoint()).toBe(2);
    expect(await readdir(dir)).not.toContain('log-0.jsonl');
  });

  it('refuses a damaged snapshot with a clear message and leaves the files as they were', async () => {
    const dir = await tmp.make();
    await writeFile(join(dir, 'snapshot.json'), '{"format":7}');
    await expect(FileStore.open(dir)).rejects.toThrow(/snapshot.json is not a format-1 snapshot/);
    expect(await readdir(dir)).toContain('snapshot.json');
    // The refusal released the directory.
    await expect(FileStore.open(dir)).rejects.toThrow(/format-1/);
  });
});
