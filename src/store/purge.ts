/**
 * Housekeeping: tombstones older than the retention are removed and the
 * store remembers the highest purged rev (so a `since` below it is refused
 * rather than silently missing deletes); idle sync sessions are dropped.
 */
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { entries, stores, syncChunks, syncSessions } from '../db/schema.js';
import { nowMicros } from './time.js';

/**
 * Purges old tombstones store by store (never two stores in one transaction);
 * returns how many went. Finding the stores is the one look across stores.
 */
export async function purgeTombstones(db: Db, retentionMs: number, now = nowMicros()): Promise<number> {
  const cutoff = now - retentionMs * 1000;
  const candidates = await db
    .selectDistinct({ storeId: entries.storeId })
    .from(entries)
    .where(and(eq(entries.deleted, true), lt(entries.tsUs, cutoff)));
  let purged = 0;
  for (const { storeId } of candidates) {
    purged += await db.transaction(async (tx) => {
      const gone = await tx
        .delete(entries)
        .where(and(eq(entries.storeId, storeId), eq(entries.deleted, true), lt(entries.tsUs, cutoff)))
        .returning({ rev: entries.rev });
      if (gone.length === 0) return 0;
      const maxRev = gone.reduce((max, g) => Math.max(max, g.rev), 0);
      await tx
        .update(stores)
        .set({ purgedRev: sql`greatest(${stores.purgedRev}, ${maxRev})` })
        .where(eq(stores.id, storeId));
      return gone.length;
    });
  }
  return purged;
}

/**
 * Drops sessions idle for longer than `graceMs` (expired ones answer 410
 * until then), store by store. `expired`: how many of them were not done
 * (their client went away mid-sync).
 */
export async function dropIdleSessions(db: Db, graceMs: number, now = nowMicros()): Promise<{ dropped: number; expired: number }> {
  // The one look across stores: which sessions are idle (read only; each removal names its store).
  const idle = await db
    .select({ storeId: syncSessions.storeId, id: syncSessions.id, done: sql<boolean>`${syncSessions.acked} >= ${syncSessions.batches} - 1` })
    .from(syncSessions)
    .where(lt(syncSessions.lastActiveUs, now - graceMs * 1000))
    .limit(10_000);
  const byStore = new Map<string, string[]>();
  for (const s of idle) byStore.set(s.storeId, [...(byStore.get(s.storeId) ?? []), s.id]);
  for (const [storeId, ids] of byStore) {
    await db.transaction(async (tx) => {
      await tx.delete(syncChunks).where(and(eq(syncChunks.storeId, storeId), inArray(syncChunks.sessionId, ids)));
      await tx.delete(syncSessions).where(and(eq(syncSessions.storeId, storeId), inArray(syncSessions.id, ids)));
    });
  }
  return { dropped: idle.length, expired: idle.filter((s) => !s.done).length };
}
