/**
 * FileStore after crashes: torn log tails, leftover temp snapshots, a
 * compaction interrupted between rename and cleanup, and a writer process
 * killed with SIGKILL at arbitrary points.
 */
import { spawn } from 'node:child_process';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeLogLine } from '../src/stores/file-format.js';
import { FileStore } from '../src/stores/file.js';
import { put } from './support/local-store-contract.js';
import { useTmpDirs } from './support/tmp-dir.js';

const tmp = useTmpDirs();

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
  it('drops a batch torn at any byte, data and checkpoint together, and keeps working', async () => {
    const line = encodeLogLine({ records: [put('b', 2), put('c', 3)], checkpoint: 3 });
    // Every cut short of the full line, including "all but the newline".
    for (let cut = 1; cut < line.length; cut += 7) {
      const dir = await storeWithOneBatch();
      await appendFile(join(dir, 'log-0.jsonl'), line.slice(0, cut));
      const store = await openAt(dir);
      expect(await store.get('b'), `cut at ${cut}`).toBeUndefined();
      expect(await store.get('c')).toBeUndefined();
      expect(await store.getCheckpoint()).toBe(1);
      // The torn tail was cut off, so the next line is not glued onto it.
      await store.applyBatch([put('d', 4)], { checkpoint: 4 });
      await store.close();
      const again = await openAt(dir);
      expect(await again.get('d')).toEqual(put('d', 4));
      expect(await again.getCheckpoint()).toBe(4);
      await again.close();
    }
  });

  it('treats a complete JSON line without its newline as torn', async () => {
    const dir = await storeWithOneBatch();
    await appendFile(join(dir, 'log-0.jsonl'), encodeLogLine({ records: [put('b', 2)], checkpoint: 2 }).trimEnd());
    const store = await openAt(dir);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.getCheckpoint()).toBe(1);
  });

  it('stops at a zero-filled tail left by a crash after the file grew', async () => {
    const dir = await storeWithOneBatch();
    await appendFile(join(dir, 'log-0.jsonl'), Buffer.alloc(64));
    await appendFile(join(dir, 'log-0.jsonl'), '\n');
    const store = await openAt(dir);
    expect(await store.get('a')).toEqual(put('a', 1));
    expect(await store.getCheckpoint()).toBe(1);
  });

  it('ignores and deletes a temp snapshot whose rename never happened', async () => {
    const dir = await storeWithOneBatch();
    // A finished-looking snapshot of a state that was never committed.
    await writeFile(
      join(dir, 'snapshot.json.tmp'),
      JSON.stringify({ format: 1, gen: 1, checkpoint: 99, records: [{ key: 'x', rev: 99, ts: 't', value: 1 }] }),
    );
    const store = await openAt(dir);
    expect(await store.get('x')).toBeUndefined();
    expect(await store.get('a')).toEqual(put('a', 1));
    expect(await store.getCheckpoint()).toBe(1);
    expect(await readdir(dir)).not.toContain('snapshot.json.tmp');
  });

  it('does not replay the previous generation log left by a compaction that crashed after its rename', async () => {
    const dir = await tmp.make();
    const store = await openAt(dir);
    await store.applyBatch([put('a', 1)], { checkpoint: 1 });
    const oldLog = await readFile(join(dir, 'log-0.jsonl'));
    await store.applyBatch([put('a', 2)], { checkpoint: 2 });
    await store.compact();
    await store.applyBatch([put('b', 3)], { checkpoint: 3 });
    await store.close();
    // Put back an old-generation log whose replay would move the checkpoint back.
    await writeFile(join(dir, 'log-0.jsonl'), oldLog);
    const again = await openAt(dir);
    expect(await again.getCheckpoint()).toBe(3);
    expect(await again.get('a')).toEqual(put('a', 2));
    expect(await again.get('b')).toEqual(put('b', 3));
    expect(await readdir(dir)).not.toContain('log-0.jsonl');
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
      const k = await store.get(`k${checkpoint % 7}`);
      expect(k?.rev).toBe(checkpoint);
      await store.close();
      acked = checkpoint;
    }
  });
});
