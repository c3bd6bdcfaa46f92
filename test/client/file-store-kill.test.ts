/**
 * A FileStore replica whose client is killed with SIGKILL while it writes a
 * large batch of a 100,000-key catch-up: the reopened replica still has the
 * checkpoint of its last complete sync (a batch and the checkpoint commit
 * together, and the checkpoint moves only at the end of a sync), so the
 * client resumes with `since` and ends equal to the server's store.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../clients/typescript/src/stores/file.js';
import { bulk, call, newStore } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { start, traffic } from './support.js';

const BATCH = 10_000;
const env = useTestServer({ limits: { maxBatchSize: BATCH } });
const CHILD = join(import.meta.dirname, 'file-store-child.ts');

/** Every live key of the store with its rev, from the key listing. */
async function serverRevs(storeId: string): Promise<Map<string, number>> {
  const revs = new Map<string, number>();
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '1000', ...(after !== undefined ? { after } : {}) });
    const page = await call(env.server, `/v1/stores/${storeId}/keys?${q}`);
    expect(page.status).toBe(200);
    for (const item of page.body.items) if (!item.deleted) revs.set(item.key, item.rev);
    if (!page.body.next) return revs;
    after = page.body.next;
  }
}

/** Writes `ops` in requests of 1000 and records each put's value in `model`. */
async function write(storeId: string, ops: Array<{ op: 'put'; key: string; value: unknown } | { op: 'delete'; key: string }>, model: Map<string, unknown>) {
  for (let i = 0; i < ops.length; i += 1000) await bulk(env.server, storeId, ops.slice(i, i + 1000));
  for (const op of ops) {
    if (op.op === 'put') model.set(op.key, op.value);
    else model.delete(op.key);
  }
}

describe('FileStore killed during a large batch', () => {
  it('resumes with `since` after SIGKILL mid-batch at 100,000 keys and ends equal to the store', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keysync-kill-'));
    const model = new Map<string, unknown>();
    try {
      const storeId = await newStore(env.server);
      await write(
        storeId,
        Array.from({ length: 50 }, (_, i) => ({ op: 'put' as const, key: `first/${i}`, value: { i } })),
        model,
      );
      // A complete first sync: the replica has a checkpoint.
      let store = await FileStore.open(dir);
      const first = start(env.server, { storeId, store });
      await first.completed;
      await first.client.unsubscribe();
      const synced = await store.getCheckpoint();
      expect(synced).toBe(50);
      await store.close();

      const n = 100_000;
      await write(
        storeId,
        Array.from({ length: n }, (_, i) => ({ op: 'put' as const, key: `bulk/${String(i).padStart(6, '0')}`, value: { i, text: 'v'.repeat(80 + (i % 40)) } })),
        model,
      );

      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, env.server.url, storeId, dir, String(BATCH)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      const exit = new Promise<NodeJS.Signals | number | null>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code, signal) => resolve(signal ?? code));
      });
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('applying\n')) child.kill('SIGKILL');
      });
      expect(await exit).toBe('SIGKILL');
      expect(out).not.toContain('complete');

      // Changes made while no client runs, to old and new keys alike.
      await write(
        storeId,
        [
          { op: 'put', key: 'first/1', value: 'changed' },
          { op: 'delete', key: 'first/2' },
          { op: 'put', key: 'bulk/000007', value: 'changed' },
          { op: 'delete', key: 'bulk/099999' },
          { op: 'put', key: 'late', value: [1, 2, 3] },
        ],
        model,
      );

      store = await FileStore.open(dir);
      // The first two large batches (and maybe the third) are in, whole; the checkpoint is the last complete sync's.
      expect(await store.getCheckpoint()).toBe(synced);
      const held = Object.keys(await store.have()).filter((k) => k.startsWith('bulk/')).length;
      expect([2 * BATCH, 3 * BATCH]).toContain(held);

      const t = traffic();
      const again = start(env.server, { storeId, store, fetch: t.fetch, batchSize: BATCH });
      try {
        await again.completed;
        expect(again.errors).toEqual([]);
        expect(t.handshakes[0]).toEqual({ since: synced, batchSize: BATCH, listStale: false, inline: true });

        const expected = await serverRevs(storeId);
        const have = await store.have();
        expect(Object.keys(have).sort()).toEqual([...expected.keys()].sort());
        expect([...model.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [key, rev] of expected) {
          const record = await store.get(key);
          expect(record?.kind === 'json' ? [record.rev, record.value] : record, key).toEqual([rev, model.get(key)]);
        }
        expect(await store.get('first/2')).toMatchObject({ kind: 'deleted' });
      } finally {
        await again.client.unsubscribe();
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
