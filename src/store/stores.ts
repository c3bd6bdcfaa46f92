/** Registering, reading, re-configuring and unregistering stores. */
import { asc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { entries, stores, syncChunks, syncSessions, tokens } from '../db/schema.js';
import { notFound } from '../errors.js';
import type { StoreConfig } from '../../clients/typescript/src/store-id.js';
import type { SyncOptions } from '../options/index.js';
import { formatTs } from './time.js';

export interface StoreInfo {
  storeId: string;
  config: StoreConfig;
  options: SyncOptions;
  headRev: number;
  createdAt: string;
}

type StoreRow = typeof stores.$inferSelect;

function toInfo(row: StoreRow): StoreInfo {
  return {
    storeId: row.id,
    config: row.config as StoreConfig,
    options: row.options as SyncOptions,
    headRev: row.headRev,
    createdAt: formatTs(row.createdUs),
  };
}

/**
 * Registers a store under the id derived from its config. Idempotent: a
 * second registration of the same config returns the existing store
 * unchanged (`created: false`); options change only through `updateOptions`.
 */
export async function registerStore(
  db: Db,
  id: string,
  config: StoreConfig,
  options: SyncOptions,
): Promise<{ store: StoreInfo; created: boolean }> {
  const inserted = await db.insert(stores).values({ id, config, options }).onConflictDoNothing().returning();
  if (inserted[0]) return { store: toInfo(inserted[0]), created: true };
  return { store: await getStore(db, id), created: false };
}

export async function getStore(db: Db, id: string): Promise<StoreInfo> {
  const [row] = await db.select().from(stores).where(eq(stores.id, id));
  if (!row) throw notFound(`store ${id}`);
  return toInfo(row);
}

export async function listStores(db: Db, after: string | undefined, limit: number): Promise<{ items: StoreInfo[]; next: string | null }> {
  const rows = await db
    .select()
    .from(stores)
    .where(after ? gt(stores.id, after) : undefined)
    .orderBy(asc(stores.id))
    .limit(limit + 1);
  const items = rows.slice(0, limit).map(toInfo);
  return { items, next: rows.length > limit ? items[items.length - 1]!.storeId : null };
}

export async function updateOptions(db: Db, id: string, options: SyncOptions): Promise<StoreInfo> {
  const [row] = await db.update(stores).set({ options }).where(eq(stores.id, id)).returning();
  if (!row) throw notFound(`store ${id}`);
  return toInfo(row);
}

/** Removes the store and everything it owns in one transaction; false when it did not exist. */
export async function deleteStore(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Locking the store row first makes concurrent writers of this store fail cleanly with 404.
    const [row] = await tx.delete(stores).where(eq(stores.id, id)).returning({ id: stores.id });
    if (!row) return false;
    await tx.delete(entries).where(eq(entries.storeId, id));
    await tx.execute(
      sql`delete from ${syncChunks} where ${syncChunks.sessionId} in (select ${syncSessions.id} from ${syncSessions} where ${syncSessions.storeId} = ${id})`,
    );
    await tx.delete(syncSessions).where(eq(syncSessions.storeId, id));
    await tx.delete(tokens).where(eq(tokens.storeId, id));
    await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, ${`${id}:deleted`})`);
    return true;
  });
}

/**
 * Channel every commit is announced on, with payload `<storeId>:<headRev>` or
 * `<storeId>:deleted`. NOTIFY is delivered at commit, to every server
 * instance listening on the same database.
 */
export const NOTIFY_CHANNEL = 'keysync_changes';
