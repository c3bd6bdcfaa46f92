/**
 * BatchCuts, the rule that cuts a session's entries into batches (at
 * `maxKeys` entries, or before their bytes pass `maxBytes`), and the case
 * where counting alone cuts the same batches: no value larger than the
 * store's largest can fill a batch before its count does. A first sync's
 * handshake then reads revs only (all-served.sql.ts).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { BatchCuts } from '../../src/sync/chunk-writer.js';

const beginsOf = (maxKeys: number, maxBytes: number, sizes: number[]): number[] => {
  const cuts = new BatchCuts(maxKeys, maxBytes);
  return sizes.flatMap((size, i) => (cuts.begins(size) ? [i] : []));
};

it('closes a batch at maxKeys, or before its bytes pass maxBytes (100 bytes an entry besides its value)', () => {
  expect(beginsOf(2, 1 << 20, [1, 1, 1, 1, 1])).toEqual([0, 2, 4]);
  expect(beginsOf(10, 500, [150, 150, 150, 10])).toEqual([0, 2]);
  // A value larger than the budget gets a batch of its own.
  expect(beginsOf(10, 500, [10, 1000, 10])).toEqual([0, 1, 2]);
});

it('counts alone exactly when no batch of values up to the largest can reach maxBytes', () => {
  expect(BatchCuts.countsAlone(2000, 4 << 20, 1024)).toBe(true);
  // 2000 × (1997 + 100) ≤ 4 MiB < 2000 × (1998 + 100)
  expect(BatchCuts.countsAlone(2000, 4 << 20, 1997)).toBe(true);
  expect(BatchCuts.countsAlone(2000, 4 << 20, 1998)).toBe(false);
  expect(BatchCuts.countsAlone(4, 400, 0)).toBe(true);
  expect(BatchCuts.countsAlone(4, 400, 1)).toBe(false);
});

it('cuts the same batches from sizes and from counts alone whenever counting is enough', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 100, max: 3000 }),
      fc.integer({ min: 0, max: 600 }),
      fc.array(fc.nat(), { maxLength: 60 }),
      (maxKeys, maxBytes, largest, raw) => {
        const sizes = raw.map((n) => n % (largest + 1));
        const byCount = beginsOf(
          maxKeys,
          maxBytes,
          sizes.map(() => 0),
        );
        if (BatchCuts.countsAlone(maxKeys, maxBytes, largest)) expect(beginsOf(maxKeys, maxBytes, sizes)).toEqual(byCount);
        // The bound is tight: past it, maxKeys values of the largest size close a batch before the count does.
        if (!BatchCuts.countsAlone(maxKeys, maxBytes, largest)) {
          const full = Array.from({ length: maxKeys }, () => largest);
          if (maxKeys > 1) expect(beginsOf(maxKeys, maxBytes, full)).not.toEqual([0]);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
