import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../src/base64.js';

describe('base64 of the browser-safe core', () => {
  it("encodes and decodes as Node's Buffer does, across the encoder's chunks", () => {
    // Lengths around the 4096-byte chunks and the 3-byte groups, and every byte value.
    const lengths = [0, 1, 2, 3, 4, 5, 4094, 4095, 4096, 4097, 4098, 8191, 8192, 8193, 12_289];
    for (const length of lengths) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 7919 + (i >> 8)) & 255);
      const text = encodeBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64'));
      expect(decodeBase64(text)).toEqual(bytes);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 10_000 }), (bytes) => {
        expect(encodeBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
        expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a view of a larger buffer by its own bytes only', () => {
    const whole = Uint8Array.from({ length: 9000 }, (_, i) => i & 255);
    const view = whole.subarray(1000, 6001);
    expect(encodeBase64(view)).toBe(Buffer.from(view).toString('base64'));
  });
});
