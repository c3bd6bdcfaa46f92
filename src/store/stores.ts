/** Registering, reading, re-configuring and unregistering stores. */
import { asc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { entries, stores, syncChunks, syncSessions, tokens } from '../db/schema.js';
import { notFound } from '../domain-errors.js';
import { NOTICE_CHANNEL, encodeNotice, type Notice } from '../db/notices.js';
import type { StoreConfig } from '@keysync/protocol';
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
export async function registerStore(db: Db, id: string, config: StoreConfig, options: SyncOptions): Promise<{ store: StoreInfo; created: boolean }> {
  const inserted = await db.insert(stores).values({ id, config, options }).onConflictDoNothing().returning();
  if (inserted[0]) return { store: toInfo(inserted[0]), created: true };
  return { store: await getStore(db, id), created: false };
}

export async function getStore(db: Db, id: string): Promise<StoreInfo> {
  const [row] = await db.select().from(stores).where(eq(stores.id, id));
  if (!row) throw notFound(`store ${id}`);
  return toInfo(row);
}

/**
 * Throws not-found for a store that does not exist. A read whose answer is
 * empty calls it, so an empty listing and a missing store stay apart without
 * a second statement on the common path.
 */
export async function assertStoreExists(db: Pick<Db, 'select'>, id: string): Promise<void> {
  const [row] = await db.select({ id: stores.id }).from(stores).where(eq(stores.id, id));
  if (!row) throw notFound(`store ${id}`);
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

/**
 * Replaces the store's options under a new options version; every instance
 * hears of it (`from`: this instance) when it commits.
 */
export async function updateOptions(db: Db, id: string, options: SyncOptions, from: string): Promise<{ store: StoreInfo; optionsVersion: number }> {
  const row = await db.transaction(async (tx) => {
    const [updated] = await tx
      .update(stores)
      .set({ options, optionsVersion: sql`${stores.optionsVersion} + 1` })
      .where(eq(stores.id, id))
      .returning();
    if (updated) await notify(tx, { kind: 'options', storeId: id, version: updated.optionsVersion, from });
    return updated;
  });
  if (!row) throw notFound(`store ${id}`);
  return { store: toInfo(row), optionsVersion: row.optionsVersion };
}

/**
 * Sends a notice when the transaction commits, from a statement of its own
 * that names no table (on a sharded database it runs on the coordinator).
 */
export async function notify(tx: Pick<Db, 'execute'>, notice: Notice): Promise<void> {
  await tx.execute(sql`select pg_notify(${NOTICE_CHANNEL}, ${encodeNotice(notice)})`);
}

/** Removes the store and everything it owns in one transaction; not-found when it does not exist. */
export async function deleteStore(db: Db, id: string, from: string): Promise<void> {
  await db.transaction(async (tx) => {
    // Locking the store row first makes concurrent writers of this store fail cleanly with 404.
    const [row] = await tx.delete(stores).where(eq(stores.id, id)).returning({ id: stores.id });
    if (!row) throw notFound(`store ${id}`);
    await tx.delete(entries).where(eq(entries.storeId, id));
    await tx.delete(syncChunks).where(eq(syncChunks.storeId, id));
    await tx.delete(syncSessions).where(eq(syncSessions.storeId, id));
    await tx.delete(tokens).where(eq(tokens.storeId, id));
    await notify(tx, { kind: 'deleted', storeId: id, from });
  });
}
