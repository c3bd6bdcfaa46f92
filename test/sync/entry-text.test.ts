/**
 * Batches are built by the database (src/store/entry-sql.ts) and live events
 * in JavaScript (src/store/entry-json.ts). A replica mixes both, so the two
 * must agree byte for byte: keys that need escaping, every kind of value,
 * tombstones, timestamps at second and microsecond edges.
 */
import { describe, expect, it } from 'vitest';
import { readEntryTexts } from '../../src/store/entry-sql.js';
import { entryJson } from '../../src/store/entry-json.js';
import { getEntry } from '../../src/store/reads.js';
import { bulk, newStore } from '../support/http.js';
import { useTestServer } from '../support/server.js';

const env = useTestServer();

const KEYS = ['plain', 'quote " and backslash \\', 'controls \b\f\n\r\t \u0001 \u001f \u007f', 'unicode ünï 𝄞 \u2028 \u2029 日本', 'slash / and <tags> & amp'];

describe('entry text built by the database', () => {
  it('equals entryJson for JSON, byte and deleted entries with keys that need escaping', async () => {
    const storeId = await newStore(env.server);
    const ops: unknown[] = [];
    for (const [i, key] of KEYS.entries()) {
      ops.push({ op: 'put', key: `json/${key}`, value: { i, s: key, n: null, f: 1.5e300, a: [true, false, {}] } });
      ops.push({ op: 'put', key: `bytes/${key}`, base64: Buffer.from(key.repeat(40)).toString('base64'), contentType: `text/x-${i}; charset="utf-8"` });
      ops.push({ op: 'put', key: `empty/${key}`, base64: '', contentType: 'application/octet-stream' });
      ops.push({ op: 'put', key: `gone/${key}`, value: 1 }, { op: 'delete', key: `gone/${key}` });
    }
    ops.push({ op: 'put', key: 'scalar/null', value: null }, { op: 'put', key: 'scalar/string', value: 'a "quoted" string' });
    await bulk(env.server, storeId, ops);

    const db = env.server.keysync.database.db;
    const keys = [...new Set(ops.map((op) => (op as { key: string }).key))];
    const texts = await readEntryTexts(db, storeId, [...keys, 'absent']);
    expect(texts.size).toBe(keys.length);
    for (const key of keys) {
      const row = (await getEntry(db, storeId, key))!;
      expect(texts.get(key)!.text, key).toBe(entryJson(row));
      expect(texts.get(key)!.deleted).toBe(row.deleted);
    }
  });

  it('formats timestamps exactly at every microsecond, whatever the session time zone', async () => {
    const storeId = await newStore(env.server);
    await bulk(env.server, storeId, [{ op: 'put', key: 'k', value: 1 }]);
    const db = env.server.keysync.database.db;
    const row = (await getEntry(db, storeId, 'k'))!;
    const { sql } = await import('drizzle-orm');
    for (const tsUs of [0, 1, 999_999, 1_000_000, 1_764_000_000_000_000, 1_764_000_000_123_456, 4_102_444_799_999_999]) {
      await db.execute(sql`update entries set ts_us = ${tsUs} where store_id = ${storeId}::uuid and key = 'k'`);
      await db.execute(sql`set time zone 'Pacific/Chatham'`);
      const text = (await readEntryTexts(db, storeId, ['k'])).get('k')!.text;
      expect(text).toBe(entryJson({ ...row, tsUs }));
    }
    await db.execute(sql`set time zone 'UTC'`);
  });
});
