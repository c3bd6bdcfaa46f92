/**
 * bytea parameters and results keep every byte, on both backends. PGlite
 * converts them with our own converters (src/db/client.ts BYTEA_PARSERS and
 * BYTEA_SERIALIZERS, faster than its own), which must read a view's bytes
 * only, not its whole buffer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
});
afterAll(async () => {
  await db?.drop();
});

const every = Buffer.from(Array.from({ length: 512 }, (_, i) => i & 255));

describe('bytea', () => {
  it('round-trips every byte value, an empty value, a view into a larger buffer and a few MB', async () => {
    const view = every.subarray(100, 357);
    const large = Buffer.alloc(3 * 1024 * 1024 + 7, 0xa5);
    large[12_345] = 0;
    for (const value of [every, Buffer.alloc(0), view, large]) {
      const [row] = await db.database.rows<{ b: Uint8Array; n: number }>('select $1::bytea as b, length($1::bytea) as n', [value]);
      expect(row!.n).toBe(value.length);
      expect(Buffer.from(row!.b).equals(value)).toBe(true);
    }
  });

  it('reads a value the database built', async () => {
    const [row] = await db.database.rows<{ b: Uint8Array }>("select decode('00ff7f80', 'hex') || '\\x0a'::bytea as b");
    expect(Array.from(row!.b)).toEqual([0, 255, 127, 128, 10]);
  });
});
