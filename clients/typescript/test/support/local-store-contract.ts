/**
 * The LocalStore invariants (src/local-store.ts), run against every store.
 * `reopen`, when given, closes the store and opens it again from its
 * persisted state, so durable stores are checked for what survives.
 */
import { describe, expect, it } from 'vitest';
import type { LocalRecord, LocalStore } from '../../src/local-store.js';

export interface StoreHarness {
  store: LocalStore;
  reopen?: () => Promise<LocalStore>;
}

export const put = (key: string, rev: number, value: unknown = `v${rev}`): LocalRecord => ({
  kind: 'json',
  key,
  rev,
  ts: ts(rev),
  value,
});
export const del = (key: string, rev: number): LocalRecord => ({ kind: 'deleted', key, rev, ts: ts(rev) });
export const ts = (rev: number): string => `2026-11-26T07:00:00.${String(rev).padStart(6, '0')}Z`;

export function describeLocalStore(name: string, open: () => Promise<StoreHarness>): void {
  describe(`${name} (LocalStore contract)`, () => {
    it('applies a put to an empty store and reports it as a change', async () => {
      const { store } = await open();
      const changes = await store.applyBatch([put('a', 1)]);
      expect(changes).toEqual([put('a', 1)]);
      expect(await store.get('a')).toEqual(put('a', 1));
    });

    it('ignores entries whose rev is not newer than the one held', async () => {
      const { store } = await open();
      await store.applyBatch([put('a', 5)]);
      expect(await store.applyBatch([put('a', 5, 'same rev'), put('a', 3, 'older')])).toEqual([]);
      expect(await store.get('a')).toEqual(put('a', 5));
    });

    it('keeps the newest of two versions of one key in the same batch', async () => {
      const { store } = await open();
      const changes = await store.applyBatch([put('a', 7), put('a', 6), put('a', 8)]);
      expect(changes.map((c) => c.rev)).toEqual([7, 8]);
      expect((await store.get('a'))?.rev).toBe(8);
    });

    it('keeps a tombstone so an older value cannot resurrect a deleted key', async () => {
      const { store } = await open();
      await store.applyBatch([put('a', 1)]);
      expect(await store.applyBatch([del('a', 4)])).toEqual([del('a', 4)]);
      expect(await store.applyBatch([put('a', 2)])).toEqual([]);
      expect(await store.get('a')).toEqual(del('a', 4));
      expect(await store.applyBatch([put('a', 9)])).toEqual([put('a', 9)]);
    });

    it('records a tombstone for a key never seen without reporting a change', async () => {
      const { store } = await open();
      expect(await store.applyBatch([del('ghost', 3)])).toEqual([]);
      expect(await store.get('ghost')).toEqual(del('ghost', 3));
      expect(await store.applyBatch([put('ghost', 2)])).toEqual([]);
    });

    it('lists only live keys with their server ts in the have map, filtered by prefix', async () => {
      const { store } = await open();
      await store.applyBatch([put('a/1', 1), put('a/2', 2), put('b', 3), put('__proto__', 4), del('a/2', 5)]);
      expect({ ...(await store.have()) }).toEqual({ 'a/1': ts(1), b: ts(3), ['__proto__']: ts(4) });
      expect({ ...(await store.have('a/')) }).toEqual({ 'a/1': ts(1) });
      expect(Object.keys(await store.have())).toContain('__proto__');
    });

    it('writes the same have map as JSON text, when it offers haveJson', async ({ skip }) => {
      const { store } = await open();
      if (!store.haveJson) return skip();
      const keys = ['a/1', 'a/"q"', 'a/\\b', 'a/\t', 'é/ключ', '😀', '\uE000', '12', '__proto__', 'b'];
      await store.applyBatch([...keys.map((k, i) => put(k, i + 1)), del('b', 20)]);
      const entries = (text: string) => Object.entries(JSON.parse(text) as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1));
      const of = (map: Record<string, string>) => Object.entries({ ...map }).sort(([a], [b]) => (a < b ? -1 : 1));
      expect(entries(await store.haveJson())).toEqual(of(await store.have()));
      expect(entries(await store.haveJson('a/'))).toEqual(of(await store.have('a/')));
      expect(entries(await store.haveJson('a/'))).toHaveLength(4);
      expect(await store.haveJson('zz')).toBe('{}');
    });

    it('gives the same have map as two lists, when it offers haveLists', async ({ skip }) => {
      const { store } = await open();
      if (!store.haveLists) return skip();
      const keys = ['a/1', 'a/"q"', 'é/ключ', '😀', '\uE000', '__proto__', 'b'];
      await store.applyBatch([...keys.map((k, i) => put(k, i + 1)), del('b', 20)]);
      const pairs = ({ keys, ts }: { keys: string[]; ts: string[] }) => keys.map((k, i) => [k, ts[i]]).sort(([a], [b]) => (a! < b! ? -1 : 1));
      const of = (map: Record<string, string>) => Object.entries({ ...map }).sort(([a], [b]) => (a < b ? -1 : 1));
      expect(pairs(await store.haveLists())).toEqual(of(await store.have()));
      expect(pairs(await store.haveLists('a/'))).toEqual(of(await store.have('a/')));
      expect(pairs(await store.haveLists('a/'))).toHaveLength(2);
      expect(await store.haveLists('zz')).toEqual({ keys: [], ts: [] });
    });

    it('has no checkpoint until one is set, and moves it only when asked', async () => {
      const { store } = await open();
      expect(await store.getCheckpoint()).toBeUndefined();
      await store.applyBatch([put('a', 1)]);
      expect(await store.getCheckpoint()).toBeUndefined();
      await store.applyBatch([put('b', 2)], { checkpoint: 2 });
      expect(await store.getCheckpoint()).toBe(2);
      await store.applyBatch([], { checkpoint: 10 });
      expect(await store.getCheckpoint()).toBe(10);
    });

    it('moves the checkpoint even when every entry of the batch is stale', async () => {
      const { store } = await open();
      await store.applyBatch([put('a', 5)]);
      expect(await store.applyBatch([put('a', 4)], { checkpoint: 5 })).toEqual([]);
      expect(await store.getCheckpoint()).toBe(5);
    });

    it('removes handshake keys held below headRev as rev-0 tombstones without a ts', async () => {
      const { store } = await open();
      await store.applyBatch([put('old', 1), put('newer', 9), put('gone', 2), del('gone', 3)]);
      const changes = await store.remove(['old', 'newer', 'gone', 'unknown', 'old'], 8);
      expect(changes).toEqual([{ kind: 'deleted', key: 'old', rev: 0, ts: null }]);
      expect(await store.get('old')).toEqual({ kind: 'deleted', key: 'old', rev: 0, ts: null });
      expect(await store.get('newer')).toEqual(put('newer', 9));
      expect(await store.get('gone')).toEqual(del('gone', 3));
      expect(await store.get('unknown')).toBeUndefined();
    });

    it('accepts a removed key again at its old rev (store options can bring it back unchanged)', async () => {
      const { store } = await open();
      await store.applyBatch([put('old', 1)]);
      await store.remove(['old'], 8);
      expect(await store.applyBatch([put('old', 1)])).toEqual([put('old', 1)]);
      expect(await store.get('old')).toEqual(put('old', 1));
    });

    it('stores bytes with their content type', async () => {
      const { store } = await open();
      const rec: LocalRecord = {
        kind: 'bytes',
        key: 'img',
        rev: 1,
        ts: ts(1),
        bytes: new Uint8Array([0, 1, 254, 255]),
        contentType: 'image/png',
      };
      await store.applyBatch([rec]);
      const got = await store.get('img');
      expect(got?.kind === 'bytes' && [...got.bytes]).toEqual([0, 1, 254, 255]);
      expect(got?.kind === 'bytes' && got.contentType).toBe('image/png');
    });

    it('forgets revisions: tombstones dropped, live revs zeroed, values and ts kept, checkpoint cleared', async () => {
      const { store } = await open();
      await store.applyBatch([put('a', 50), put('b', 51), del('b', 52)], { checkpoint: 52 });
      await store.forgetRevisions();
      expect(await store.get('a')).toEqual({ ...put('a', 50), rev: 0 });
      expect(await store.get('b')).toBeUndefined();
      expect(await store.getCheckpoint()).toBeUndefined();
      // The restored server's lower revs now apply.
      expect(await store.applyBatch([put('a', 3), put('b', 4)])).toHaveLength(2);
    });

    it('rejects calls after close', async () => {
      const { store } = await open();
      await store.close();
      await expect(store.get('a')).rejects.toThrow(/closed/);
      await expect(store.applyBatch([put('a', 1)])).rejects.toThrow(/closed/);
    });

    it('keeps records, tombstones and checkpoint across a reopen when durable', async (ctx) => {
      const h = await open();
      if (!h.reopen) ctx.skip();
      await h.store.applyBatch([put('a', 1), put('b', 2)]);
      await h.store.applyBatch([del('b', 3)], { checkpoint: 3 });
      await h.store.remove(['a'], 4);
      const again = await h.reopen!();
      expect(await again.get('a')).toEqual({ kind: 'deleted', key: 'a', rev: 0, ts: null });
      expect(await again.get('b')).toEqual(del('b', 3));
      expect(await again.getCheckpoint()).toBe(3);
      expect(await again.applyBatch([put('b', 2)])).toEqual([]);
      await again.close();
    });
  });
}
