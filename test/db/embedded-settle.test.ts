/**
 * The embedded database vacuums a store that has grown before a handshake
 * compares with it (src/db/embedded-settle.ts): its pages come out
 * all-visible, so the comparison reads the primary key alone; a store that
 * has not doubled since is left alone, and over HTTP only the comparing
 * handshakes (a `have` map, digests) wait for it, not an initial sync.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedDatabase } from '../../src/db/client.js';
import { EmbeddedSettle } from '../../src/db/embedded-settle.js';
import { applyWrites } from '../../src/store/writes.js';
import { backend, createTestDatabase, entriesPages, registerTestStore, type TestDatabase } from '../support/db.js';
import { useTestServer } from '../support/server.js';

/** `n` keys under `prefix`, about 250 bytes each. */
const load = (db: TestDatabase, storeId: string, prefix: string, n: number) =>
  applyWrites(
    db.database.db,
    storeId,
    Array.from({ length: n }, (_, i) => ({ op: 'put' as const, key: `${prefix}/${i}`, json: JSON.stringify({ i, pad: 'x'.repeat(200) }) })),
  );

/** Pages of `entries` not all-visible, by the catalog (VACUUM updates it). */
const unmarkedPages = async (db: TestDatabase) => {
  const { pages, visible } = await entriesPages(db.database);
  return pages - visible;
};

/** The same database, its VACUUMs counted. */
function countingVacuums(db: TestDatabase): { counted: EmbeddedDatabase; vacuums: string[] } {
  const database = db.database as EmbeddedDatabase;
  const vacuums: string[] = [];
  const counted: EmbeddedDatabase = {
    ...database,
    rows: (text, params) => {
      if (/^vacuum/.test(text)) vacuums.push(text);
      return database.rows(text, params);
    },
  };
  return { counted, vacuums };
}

describe.runIf(backend === 'pglite')('the embedded database settles a grown store before a comparison', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('vacuums once a store has doubled (and grown by 10,000 rows), and leaves it alone until it doubles again', async () => {
    const { counted, vacuums } = countingVacuums(db);
    const settle = new EmbeddedSettle(counted);
    const storeId = await registerTestStore(db);
    await load(db, storeId, 'a', 9_000);
    await settle.beforeCompare(storeId);
    expect(vacuums).toEqual([]);

    await load(db, storeId, 'b', 12_000);
    expect(await unmarkedPages(db)).toBeGreaterThan(100);
    await settle.beforeCompare(storeId);
    expect(vacuums).toEqual(['vacuum entries']);
    expect(await unmarkedPages(db)).toBe(0);

    // 21,000 revs settled: not again before 52,000.
    await load(db, storeId, 'c', 20_000);
    await settle.beforeCompare(storeId);
    expect(vacuums).toHaveLength(1);
    await load(db, storeId, 'd', 12_000);
    await settle.beforeCompare(storeId);
    expect(vacuums).toHaveLength(2);
    expect(await unmarkedPages(db)).toBe(0);

    // No such store: nothing to do.
    await settle.beforeCompare('00000000-0000-4000-8000-000000000000');
    expect(vacuums).toHaveLength(2);
  }, 60_000);

  it('settles every store with its VACUUM of the table, not only the one that asked', async () => {
    const { counted, vacuums } = countingVacuums(db);
    const settle = new EmbeddedSettle(counted);
    const [asking, other] = [await registerTestStore(db), await registerTestStore(db)];
    await load(db, other, 'o', 12_000);
    await load(db, asking, 'a', 12_000);
    await settle.beforeCompare(asking);
    expect(vacuums).toHaveLength(1);
    // The other store's rows were marked by that VACUUM: its first comparison needs none.
    await load(db, other, 'p', 1_000);
    await settle.beforeCompare(other);
    expect(vacuums).toHaveLength(1);
    // Until it doubles again (and grows by 10,000 rows): 35,000 revs against 12,000.
    await load(db, other, 'q', 22_000);
    await settle.beforeCompare(other);
    expect(vacuums).toHaveLength(2);
    expect(await unmarkedPages(db)).toBe(0);
  }, 60_000);

  it('lets the comparison go on when the VACUUM fails, and says so', async () => {
    const database = db.database as EmbeddedDatabase;
    const failing: EmbeddedDatabase = {
      ...database,
      rows: (text, params) => (/^vacuum/.test(text) ? Promise.reject(new Error('no room')) : database.rows(text, params)),
    };
    const errors: unknown[] = [];
    const settle = new EmbeddedSettle(failing, (err) => errors.push(err));
    const storeId = await registerTestStore(db);
    await load(db, storeId, 'k', 11_000);
    await expect(settle.beforeCompare(storeId)).resolves.toBeUndefined();
    expect(errors).toEqual([new Error('no room')]);
  }, 60_000);
});

describe.runIf(backend === 'pglite')('the handshakes that wait for it', () => {
  const env = useTestServer();

  const handshake = (storeId: string, body: unknown) =>
    env.server.fetch(`/v1/stores/${storeId}/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('a `have` handshake does, an initial sync and a `since` handshake do not', async () => {
    const storeId = await registerTestStore(env.db);
    const [last] = (await load(env.db, storeId, 'k', 15_000)).slice(-1);
    expect(await unmarkedPages(env.db)).toBeGreaterThan(100);
    for (const body of [{ have: {} }, { since: 10 }]) {
      const res = await handshake(storeId, { ...body, listStale: false });
      expect(res.status).toBe(201);
      await res.text();
      expect(await unmarkedPages(env.db)).toBeGreaterThan(100);
    }
    const res = await handshake(storeId, { have: { [last!.key]: last!.ts }, listStale: false });
    expect(res.status).toBe(201);
    await res.text();
    expect(await unmarkedPages(env.db)).toBe(0);
  }, 60_000);
});
