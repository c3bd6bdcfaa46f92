/**
 * A first sync's batches (and a `since`'s) hold every entry the store served
 * in a range of revs, which their chunk records (all-served.sql.ts); the
 * fast path reads such a batch by that range, in pieces, and checks it
 * against the chunk's key count, and reads it key by key (also in pieces)
 * when a key was written or deleted since the handshake (batch.sql.ts).
 * Both give the locked path's body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyWrites, type WriteOp } from '../../src/store/writes.js';
import { ENTRIES_PER_PIECE, fetchBatchFast, joinedInRange } from '../../src/sync/batch.sql.js';
import { handshake, type HandshakeRequest } from '../../src/sync/handshake.js';
import { HaveList } from '../../src/sync/have-list.js';
import { PolicyRegistry } from '../../src/sync/policy-registry.js';
import { fetchBatchLocked, type BatchRequest } from '../../src/sync/sessions.js';
import { backend, createTestDatabase, registerTestStore, type TestDatabase } from '../support/db.js';
import { parseTsMicros } from '@keysync/protocol';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const SETTINGS = { batchSize: 4, maxBatchSize: 1000, batchBytes: 1 << 20, window: 100, timeoutMs: 60_000 };
/** Keys that need escaping in JSON, and one outside the prefix `a/`. */
const KEYS = ['a/0', 'a/"quoted"', 'a/back\\slash', 'a/ü', 'a/4', 'b/5', 'a/6', 'a/7', 'a/8', 'a/9'];

interface Chunk {
  cursor: number;
  keys: string[];
  from_rev: string | number | null;
  to_rev: string | number | null;
}

async function storeWithKeys(): Promise<{ storeId: string; revOf: Map<string, number> }> {
  const storeId = await registerTestStore(db);
  const ops: WriteOp[] = KEYS.map((key, i) => ({ op: 'put', key, json: JSON.stringify({ i }) }));
  const results = await applyWrites(db.database.db, storeId, ops);
  // A key deleted before the handshake, then keys rewritten: its tombstone is served by no
  // batch but lies inside the revs of one, and the rewritten keys left gaps in the first revs.
  await applyWrites(db.database.db, storeId, [{ op: 'put', key: 'a/gone', json: '1' }]);
  await applyWrites(db.database.db, storeId, [{ op: 'delete', key: 'a/gone' }, ...KEYS.slice(6).map((key) => ({ op: 'put' as const, key, json: '"again"' }))]);
  const revOf = new Map(results.map((r) => [r.key, r.rev]));
  for (const [key, rev] of (
    await db.database.rows<{ key: string; rev: string | number }>('select key, rev from entries where store_id = $1::uuid', [storeId])
  ).map((r) => [r.key, Number(r.rev)] as const))
    revOf.set(key, rev);
  return { storeId, revOf };
}

async function open(storeId: string, request: HandshakeRequest) {
  const policies = new PolicyRegistry();
  const session = await handshake(db.database.db, storeId, request, (o) => policies.policyFor(storeId, o), SETTINGS);
  const chunks = await db.database.rows<Chunk>(
    'select cursor, keys, from_rev, to_rev from sync_chunks where store_id = $1::uuid and session_id = $2::uuid order by cursor',
    [storeId, session.sessionId],
  );
  const request_ = (cursor: number): BatchRequest => ({ storeId, sessionId: session.sessionId, cursor, timeoutMs: SETTINGS.timeoutMs, open: true });
  return { session, chunks, request: request_ };
}

/** The keys of the entries of a range read's pieces, in order. */
const keysOf = (pieces: Buffer[] | undefined) =>
  pieces?.flatMap((piece) =>
    piece
      .toString('utf8')
      .split(',\n')
      .map((t) => (JSON.parse(t) as { key: string }).key),
  );

describe(`batches read by their rev range (${backend})`, () => {
  it('records the rev range of each chunk of a first sync, and none for a prefix', async () => {
    const { storeId, revOf } = await storeWithKeys();
    const { chunks } = await open(storeId, { have: HaveList.of([]) });
    expect(chunks.flatMap((c) => c.keys)).toHaveLength(KEYS.length);
    for (const c of chunks) {
      const revs = c.keys.map((k) => revOf.get(k)!);
      expect([Number(c.from_rev), Number(c.to_rev)]).toEqual([Math.min(...revs), Math.max(...revs)]);
    }
    const prefixed = await open(storeId, { have: HaveList.of([]), prefix: 'a/' });
    expect(prefixed.chunks.length).toBeGreaterThan(0);
    for (const c of prefixed.chunks) expect([c.from_rev, c.to_rev]).toEqual([null, null]);
  });

  it('reads an untouched batch by its range, and by its keys once one was written or deleted since', async () => {
    const { storeId } = await storeWithKeys();
    const { chunks, request } = await open(storeId, { have: HaveList.of([]) });
    const read = (c: Chunk, entriesPerPiece?: number) =>
      joinedInRange(db.database.db, storeId, { fromRev: Number(c.from_rev), toRev: Number(c.to_rev), keys: c.keys.length }, entriesPerPiece);

    // Untouched: the range holds exactly the chunk's keys, in its order, read in one piece or in several.
    for (const c of chunks) {
      for (const perPiece of [undefined, 1, 3]) expect(keysOf(await read(c, perPiece))).toEqual(c.keys);
      if (c.keys.length > 1) expect((await read(c, 1))!.length).toBeGreaterThan(1);
    }

    const [first, second] = chunks;
    await applyWrites(db.database.db, storeId, [{ op: 'put', key: first!.keys[1]!, json: '"rewritten"' }]);
    await applyWrites(db.database.db, storeId, [{ op: 'delete', key: second!.keys[0]! }]);
    expect(await read(first!)).toBeUndefined();
    expect(await read(second!)).toBeUndefined();

    // Either way the fast path answers as the locked path does: current values, a tombstone.
    for (const c of chunks) {
      const fast = await fetchBatchFast(db.database.db, request(c.cursor));
      expect(fast).toBeDefined();
      const locked = await fetchBatchLocked(db.database.db, request(c.cursor));
      expect(Buffer.from(fast!).toString('utf8')).toBe(Buffer.from(locked).toString('utf8'));
    }
    const body = Buffer.from((await fetchBatchFast(db.database.db, request(first!.cursor)))!).toString('utf8');
    expect(body).toContain('"value":"rewritten"');
    expect(Buffer.from((await fetchBatchFast(db.database.db, request(second!.cursor)))!).toString('utf8')).toContain('"deleted":true');
  });

  it('records the ranges of a since handshake too, and reads its batches as the locked path does', async () => {
    const { storeId, revOf } = await storeWithKeys();
    // Since after the first four writes: the rest of the keys, and the tombstone of a/gone inside their revs.
    const since = [...revOf.values()].sort((x, y) => x - y)[3]!;
    const { chunks, request } = await open(storeId, { since });
    const stale = [...revOf].filter(([key, rev]) => rev > since && key !== 'a/gone').map(([key]) => key);
    expect(chunks.flatMap((c) => c.keys).sort()).toEqual(stale.sort());
    for (const c of chunks) {
      const revs = c.keys.map((k) => revOf.get(k)!);
      expect([Number(c.from_rev), Number(c.to_rev)]).toEqual([Math.min(...revs), Math.max(...revs)]);
    }
    // The revs of a since's range have gaps (rewritten and deleted keys): pieces are cut by revs, and may hold none.
    for (const c of chunks) {
      for (const perPiece of [undefined, 1, 2]) {
        const range = { fromRev: Number(c.from_rev), toRev: Number(c.to_rev), keys: c.keys.length };
        expect(keysOf(await joinedInRange(db.database.db, storeId, range, perPiece))).toEqual(c.keys);
      }
    }
    await applyWrites(db.database.db, storeId, [{ op: 'put', key: chunks[0]!.keys[0]!, json: '"later"' }]);
    for (const c of chunks) {
      const fast = await fetchBatchFast(db.database.db, request(c.cursor));
      expect(Buffer.from(fast!).toString('utf8')).toBe(Buffer.from(await fetchBatchLocked(db.database.db, request(c.cursor))).toString('utf8'));
    }
  });

  it("records the range of a have handshake's chunk whose keys' revs follow each other, and only then", async () => {
    const storeId = await registerTestStore(db);
    const keys = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const written = await applyWrites(
      db.database.db,
      storeId,
      keys.map((key, i): WriteOp => ({ op: 'put', key, json: JSON.stringify({ i }) })),
    );
    // The replica holds every key as first written; then a bulk rewrite (consecutive revs), and a write, a delete and a new key.
    const have = HaveList.of(written.map((r) => [r.key, parseTsMicros(r.ts)!] as const));
    await applyWrites(
      db.database.db,
      storeId,
      keys.slice(2, 8).map((key): WriteOp => ({ op: 'put', key, json: '"again"' })),
    );
    await applyWrites(db.database.db, storeId, [{ op: 'put', key: 'k10', json: '"again"' }]);
    await applyWrites(db.database.db, storeId, [{ op: 'delete', key: 'k11' }]);
    await applyWrites(db.database.db, storeId, [{ op: 'put', key: 'k12', json: '"new"' }]);
    const { chunks, request, session } = await open(storeId, { have });
    expect(session.removed).toEqual(['k11']);
    // Revs 13-16, then 17, 18, 19 and 21: the tombstone of k11 (rev 20) lies between, and the second chunk records no range.
    expect(chunks.map((c) => [c.keys, c.from_rev === null ? null : Number(c.from_rev), c.to_rev === null ? null : Number(c.to_rev)])).toEqual([
      [['k02', 'k03', 'k04', 'k05'], 13, 16],
      [['k06', 'k07', 'k10', 'k12'], null, null],
    ]);
    const read = () => joinedInRange(db.database.db, storeId, { fromRev: 13, toRev: 16, keys: 4 });
    expect(keysOf(await read())).toEqual(['k02', 'k03', 'k04', 'k05']);
    const answers = async () => {
      for (const c of chunks) {
        const fast = await fetchBatchFast(db.database.db, request(c.cursor));
        expect(Buffer.from(fast!).toString('utf8')).toBe(Buffer.from(await fetchBatchLocked(db.database.db, request(c.cursor))).toString('utf8'));
      }
    };
    await answers();
    // Written since the handshake: the range no longer holds the chunk, which is read by its keys, current values.
    await applyWrites(db.database.db, storeId, [{ op: 'put', key: 'k03', json: '"later"' }]);
    expect(await read()).toBeUndefined();
    await answers();
    expect(Buffer.from((await fetchBatchFast(db.database.db, request(0)))!).toString('utf8')).toContain('"value":"later"');
  });

  it('reads a batch of more keys than a piece holds by its keys, as the locked path does', async () => {
    const storeId = await registerTestStore(db);
    const keys = Array.from({ length: 3 * ENTRIES_PER_PIECE + 5 }, (_, i) => `p/${String(i).padStart(4, '0')}`);
    // Written last key first: delivery (rev) order is the reverse of the order the primary key finds them in.
    await applyWrites(
      db.database.db,
      storeId,
      keys.toReversed().map((key, i): WriteOp => ({ op: 'put', key, json: JSON.stringify({ i }) })),
    );
    // A prefix is read key by key (its chunks record no range).
    const { chunks, request } = await open(storeId, { have: HaveList.of([]), prefix: 'p/', batchSize: keys.length });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.keys).toEqual(keys.toReversed());
    await applyWrites(db.database.db, storeId, [
      { op: 'delete', key: keys[ENTRIES_PER_PIECE]! },
      { op: 'put', key: keys[2 * ENTRIES_PER_PIECE + 1]!, json: '"later"' },
    ]);
    const fast = Buffer.from((await fetchBatchFast(db.database.db, request(0)))!).toString('utf8');
    expect(fast).toBe(Buffer.from(await fetchBatchLocked(db.database.db, request(0))).toString('utf8'));
    const sent = (JSON.parse(fast) as { entries: Array<{ key: string }> }).entries.map((e) => e.key);
    expect(sent).toEqual(chunks[0]!.keys);
  });
});
