/**
 * Housekeeping: tombstones older than the retention are removed and the
 * store remembers the highest purged rev (so a `since` below it is refused
 * rather than silently missing deletes); idle sync sessions are dropped.
 */
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { entries, stores, syncChunks, syncSessions } from '../db/schema.js';
import { nowMicros } from './time.js';

/** Purges old tombstones store by store (never two stores in one transaction); returns how many went. */
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

/** Drops sessions idle for longer than `graceMs` (expired ones answer 410 until then). */
export async function dropIdleSessions(db: Db, graceMs: number, now = nowMicros()): Promise<number> {
  const idle = await db
    .select({ id: syncSessions.id })
    .from(syncSessions)
    .where(lt(syncSessions.lastActiveUs, now - graceMs * 1000))
    .limit(10_000);
  if (idle.length === 0) return 0;
  const ids = idle.map((s) => s.id);
  await db.delete(syncChunks).where(inArray(syncChunks.sessionId, ids));
  await db.delete(syncSessions).where(inArray(syncSessions.id, ids));
  return ids.length;
}
