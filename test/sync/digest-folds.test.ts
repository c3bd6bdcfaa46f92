/**
 * DigestFolds on its own: a running fold is joined, a done one kept within
 * its byte budget (least recently used first out) and for KEEP_MS, a failed
 * one forgotten, and a budget of 0 shares nothing. The HTTP tests
 * (test/http/digests.test.ts) hold the server to what a fold is named by.
 */
import { describe, expect, it } from 'vitest';
import { DigestFolds, KEEP_MS, foldKey } from '../../src/sync/digest-folds.js';

const words = (buckets: number, fill = 1) => new Int32Array(2 * buckets).fill(fill);

/** A fold that ends when told to, counting how often it was started. */
function pendingFold(result: Int32Array) {
  const finishers: Array<(ok: boolean) => void> = [];
  const fold = () => {
    fold.started++;
    return new Promise<Int32Array>((resolve, reject) => {
      finishers.push((ok) => (ok ? resolve(result) : reject(new Error('fold failed'))));
    });
  };
  fold.started = 0;
  return { fold, finish: (ok = true) => finishers.forEach((f) => f(ok)) };
}

describe('DigestFolds', () => {
  it('runs one fold for the requests that ask while it runs, and answers later ones from its words', async () => {
    const outcomes: string[] = [];
    const folds = new DigestFolds(1024, { onFold: (outcome) => outcomes.push(outcome) });
    const { fold, finish } = pendingFold(words(4));
    const first = folds.run('k', fold);
    const second = folds.run('k', fold);
    const found = folds.find('k');
    expect(found).toBeInstanceOf(Promise);
    finish();
    expect(await first).toBe(await second);
    expect(await found).toBe(await first);
    expect(folds.find('k')).toBe(await first);
    expect(fold.started).toBe(1);
    expect(outcomes).toEqual(['folded', 'reused', 'reused', 'reused']);
    expect(folds.keptBytes).toBe(32);
  });

  it('forgets a failed fold: its own request gets the failure, a request that joined it folds again', async () => {
    const folds = new DigestFolds(1024);
    const failing = pendingFold(words(4));
    const again = pendingFold(words(4, 7));
    const first = folds.run('k', failing.fold);
    const joined = folds.run('k', again.fold);
    failing.finish(false);
    await expect(first).rejects.toThrow('fold failed');
    await new Promise((resolve) => setImmediate(resolve));
    expect(again.fold.started).toBe(1);
    again.finish();
    expect((await joined)[0]).toBe(7);
    expect(folds.find('k')).toBe(await joined);
  });

  it('keeps folds within its byte budget, the least recently used going first, and none larger than the budget', async () => {
    const folds = new DigestFolds(100); // three folds of 4 buckets (32 bytes each)
    for (const key of ['a', 'b', 'c']) await folds.run(key, async () => words(4));
    expect(folds.keptBytes).toBe(96);
    folds.find('a'); // used: 'b' is now the oldest
    await folds.run('d', async () => words(4));
    expect(folds.find('b')).toBeUndefined();
    for (const key of ['a', 'c', 'd']) expect(folds.find(key)).toBeInstanceOf(Int32Array);
    expect(folds.keptBytes).toBe(96);
    await folds.run('huge', async () => words(16)); // 128 bytes: answered, not kept
    expect(folds.find('huge')).toBeUndefined();
    expect(folds.keptBytes).toBe(96);
    folds.close();
  });

  it('lets a fold go KEEP_MS after it was made', async () => {
    let now = 1_000_000;
    const folds = new DigestFolds(1024, { now: () => now });
    await folds.run('k', async () => words(2));
    now += KEEP_MS - 1;
    expect(folds.find('k')).toBeInstanceOf(Int32Array);
    now += 1;
    expect(folds.find('k')).toBeUndefined();
    expect(folds.keptBytes).toBe(0);
    folds.close();
  });

  it('shares nothing with a budget of 0', async () => {
    const folds = new DigestFolds(0);
    const { fold, finish } = pendingFold(words(1));
    const first = folds.run('k', fold);
    const second = folds.run('k', fold);
    expect(fold.started).toBe(2);
    expect(folds.find('k')).toBeUndefined();
    finish();
    await Promise.all([first, second]);
    expect(folds.keptBytes).toBe(0);
  });

  it('names a fold by every part of its identity, a prefix of any characters included', () => {
    const id = { storeId: 's', createdUs: 1, headRev: 2, optionsVersion: 3, buckets: 4, prefix: undefined };
    const keys = new Set([
      foldKey(id),
      foldKey({ ...id, storeId: 't' }),
      foldKey({ ...id, createdUs: 9 }),
      foldKey({ ...id, headRev: 9 }),
      foldKey({ ...id, optionsVersion: 9 }),
      foldKey({ ...id, buckets: 8 }),
      foldKey({ ...id, prefix: '' }),
      foldKey({ ...id, prefix: '","' }),
    ]);
    expect(keys.size).toBe(8);
  });
});
