import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { schema } from './schema.js';

/** A drizzle instance on either driver (postgres.js or PGlite), or a transaction of one. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
