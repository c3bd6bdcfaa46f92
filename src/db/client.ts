/**
 * Opens the database: PostgreSQL through postgres.js when a URL is given,
 * otherwise PGlite (PostgreSQL in WASM) in a local folder. Both get the same
 * drizzle schema, the same migrations and the same SQL.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { rawDb } from './raw.js';
import { schema } from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** Payload listener for a NOTIFY channel; returns a function that stops it. */
export type Listen = (channel: string, onPayload: (payload: string) => void) => Promise<() => Promise<void>>;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  listen: Listen;
  /** Runs raw SQL and returns the rows (used for the few statements drizzle can't build). */
  rows<T>(query: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl?: string;
  dataDir?: string;
  /** PGlite only: start from this data-folder dump (PGlite.dumpDataDir) instead of initdb; tests use it */
  pgliteTemplate?: Blob;
  /** postgres.js pool size */
  maxConnections?: number;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.maxConnections ?? 10) : openPglite(opts.dataDir, opts.pgliteTemplate);
}

function openPostgres(url: string, max: number): Database {
  // Fail fast while the database is down so requests answer 503 instead of hanging.
  // postgres.js waits 3^n/100 s (up to 20 s, n shared by the pool) before reconnecting after
  // failures, so requests hung long after an outage ended: retry within half a second instead.
  const backoff = (retries: number) => Math.min(0.02 * 2 ** retries, 0.5) * (0.5 + Math.random() / 2);
  const pg = postgres(url, { max, onnotice: () => {}, connect_timeout: 5, idle_timeout: 60, backoff });
  const db = drizzlePostgres(pg, { schema }) as unknown as Db;
  return {
    db,
    kind: 'postgres',
    async listen(channel, onPayload) {
      const sub = await pg.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    rows: rawDb(db).query,
    close: () => pg.end({ timeout: 5 }),
  };
}

async function openPglite(dataDir: string | undefined, template: Blob | undefined): Promise<Database> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir, template ? { loadDataDir: template } : {});
  await client.waitReady;
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    async listen(channel, onPayload) {
      return client.listen(channel, onPayload);
    },
    rows: rawDb(db).query,
    close: () => client.close(),
  };
}
