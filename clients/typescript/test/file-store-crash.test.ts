/**
 * FileStore after crashes: a commit whose pages reached the disk but whose
 * meta page did not, a grown file with a zero-filled tail, a writer process
 * killed with SIGKILL at arbitrary points, and torn tails in format-1
 * directories that are migrated on open.
 */
import { spawn } from 'node:child_process';
import { appendFile, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DATA_FILE, FileStore } from '../src/stores/file.js';
import { encodeLogLine, writeLegacyDir } from './support/legacy-file-format.js';
import { put } from './support/local-store-contract.js';
import { useTmpDirs } from './support/tmp-dir.js';

const tmp = useTmpDirs();
/** LMDB's page size on Linux x64; pages 0 and 1 are its two meta pages. */
const PAGE = 4096;

async function openAt(dir: string): Promise<FileStore> {
  const store = await FileStore.open(dir);
  tmp.onCleanup(() => store.close());
  return store;
}

/** A store holding batch A (key a, checkpoint 1), closed. */
async function storeWithOneBatch(): Promise<string> {
  const dir = await tmp.make();
  const store = await openAt(dir);
  await store.applyBatch([put('a', 1)], { checkpoint: 1 });
  await store.close();
  return dir;
}

describe('FileStore crash recovery', () => {
  it('does not see a commit whose data pages were written but whose meta page was not: data and checkpoint stay together', async () => {
    const dir = await storeWithOneBatch();
    const file = join(dir, DATA_FILE);
    const metaPages = (await readFile(file)).subarray(0, 2 * PAGE);
    const store = await openAt(dir);
    await store.applyBatch([put('a', 2), put('b', 2), put('c', 2)], { checkpoint: 2 });
    await store.close();
    // The crash: every page of batch 2 is on disk, the meta page that makes it current is not.
    const fh = await open(file, 'r+');
    await fh.write(metaPages, 0, metaPages.length, 0);
    await fh.close();
    const again = await openAt(dir);
    expect(await again.get('a')).toEqual(put('a', 1));
    expect(await again.get('b')).toBeUndefined();
    expect(await again.getCheckpoint()).toBe(1);
    // And it goes on from there.
    await again.applyBatch([put('b', 3)], { checkpoint: 3 });
    await again.close();
    const third = await openAt(dir);
    expect(await third.get('b')).toEqual(put('b', 3));
    expect(await third.getCheckpoint()).toBe(3);
  });

  it('ignores a zero-filled tail left by a crash after the file grew', async () => {
    const dir = await storeWithOneBatch();
    await appendFile(join(dir, DATA_FILE), Buffer.alloc(8 * PAGE));
    const store = await openAt(dir);
    expect(await store.get('a')).toEqual(put('a', 1));
    expect(await store.getCheckpoint()).toBe(1);
    await store.applyBatch([put('b', 2)], { checkpoint: 2 });
    expect(await store.get('b')).toEqual(put('b', 2));
  });

  it('keeps every acknowledged batch, whole, when the writer is killed with SIGKILL', { timeout: 60_000 }, async () => {
    const writer = fileURLToPath(new URL('./support/crash-writer.ts', import.meta.url));
    const dir = await tmp.make();
    let acked = 0;
    for (const killAfter of [5, 40, 120, 300]) {
      const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const lines = out.trim().split('\n');
          if (Number(lines.at(-1)) >= acked + killAfter) child.kill('SIGKILL');
        });
        child.on('exit', () => resolve());
      });
      const printed = out.trim().split('\n').map(Number).filter(Number.isFinite);
      acked = Math.max(acked, ...printed);
      const store = await FileStore.open(dir);
      const checkpoint = (await store.getCheckpoint()) ?? 0;
      const last = await store.get('last');
      // Durable: nothing acknowledged was lost. Atomic: data and checkpoint moved together.
      expect(checkpoint).toBeGreaterThanOrEqual(acked);
      expect(last?.rev).toBe(checkpoint);
      expect((await store.get(`k${checkpoint % 7}`))?.rev).toBe(checkpoint);
      const big = await store.get(`big${checkpoint % 3}`);
      expect(big?.kind === 'json' && big.value).toBe('y'.repeat((checkpoint * 997) % 20_000));
      await store.close();
      acked = checkpoint;
    }
  });
});

describe('FileStore migrating a format-1 directory after a crash', () => {
  it('drops a batch torn at any byte, data and checkpoint together, and keeps working', async () => {
    const line = encodeLogLine({ records: [put('b', 2), put('c', 3)], checkpoint: 3 });
    // Every cut short of the full line, including "all but the newline".
    for (const cut of [1, 9, Math.floor(line.length / 2), line.length - 2, line.length - 1]) {
      const dir = await tmp.make();
      await writeLegacyDir(dir, { lines: [{ records: [put('a', 1)], checkpoint: 1 }], tail: line.slice(0, cut) });
      const store = await openAt(dir);
      expect(await store.get('a'), `cut at ${cut}`).toEqual(put('a', 1));
      expect(await store.get('b')).toBeUndefined();
      expect(await store.get('c')).toBeUndefined();
      expect(await store.getCheckpoint()).toBe(1);
      await store.applyBatch([put('d', 4)], { checkpoint: 4 });
      await store.close();
      const again = await openAt(dir);
      expect(await again.get('d')).toEqual(put('d', 4));
      expect(await again.getCheckpoint()).toBe(4);
      await again.close();
    }
  });

  it('stops at a zero-filled tail of the old log', async () => {
    const dir = await tmp.make();
    await writeLegacyDir(dir, { lines: [{ records: [put('a', 1)], checkpoint: 1 }], tail: Buffer.concat([Buffer.alloc(64), Buffer.from('\n')]) });
    const store = await openAt(dir);
    expect(await store.get('a')).toEqual(put('a', 1));
    expect(await store.getCheckpoint()).toBe(1);
  });
});
