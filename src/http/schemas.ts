/** Wire schemas shared by the route definitions; they are also the OpenAPI components. */
import { z } from '@hono/zod-openapi';
import { SyncOptionsSchema } from '../options/index.js';

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://keysync.dev/problems/validation' }),
    title: z.string().openapi({ example: 'Validation Failed' }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().optional().openapi({ example: 'The request is not valid' }),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: 'Present on validation failures: each offending field and why.' }),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details; every error response has this shape.' });

export const problemContent = { 'application/problem+json': { schema: ProblemSchema } };
export const problem = (description: string) => ({ description, content: problemContent });

/** Answers any route backed by the database may give under load or outage (docs/security.md). */
export const limitProblems = {
  429: problem('Rate or quota exceeded (too-many-requests, too-many-sessions, too-many-subscribers): retry after `Retry-After` seconds'),
  503: problem('The database is not reachable or the server is at capacity (unavailable): retry after `Retry-After` seconds'),
};

/**
 * An id in the URL, only as the server writes it (lower case): every route,
 * feed, cap and notification keys by the same text, so `ABC…` and `abc…`
 * can never be two names of one store with separate limits and feeds.
 */
export const canonicalUuid = () => z.uuid().regex(/^[0-9a-f-]+$/, 'must be written in lower case, as the server writes ids');

export const StoreIdParam = canonicalUuid().openapi({
  param: { name: 'storeId', in: 'path' },
  description: 'Store id: UUIDv5 of the RFC 8785 canonical config, in lower case.',
  example: '58c4b668-ca6b-5f9d-8989-3a4a0ff13619',
});

export const KeyParam = z.string().openapi({
  param: { name: 'key', in: 'path' },
  description: 'The key, percent-encoded as one path segment (`a/b` is `a%2Fb`).',
  example: 'users%2F42',
});

export const RevSchema = z.number().int().min(0).openapi({ description: 'Store revision (safe integer).', example: 42 });
export const TsSchema = z.string().openapi({ description: 'Server write time, ISO-8601 UTC with microseconds.', example: '2026-11-26T07:31:34.123456Z' });

export const StoreConfigSchema = z
  .object({ scope: z.uuid().openapi({ example: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890' }) })
  .catchall(z.unknown())
  .openapi('StoreConfig', {
    description: 'Any JSON object with a `scope` UUID; the store id is derived from it.',
    example: { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', backend: 'file', path: 'data/my-store' },
  });

export const StoreSchema = z
  .object({
    storeId: z.uuid(),
    config: StoreConfigSchema,
    options: SyncOptionsSchema,
    headRev: RevSchema,
    createdAt: TsSchema,
  })
  .openapi('Store');

export const WriteResultSchema = z
  .object({ key: z.string(), rev: RevSchema, ts: TsSchema, deleted: z.literal(true).optional() })
  .openapi('WriteResult');

export const KeyMetaSchema = z
  .object({ key: z.string(), rev: RevSchema, ts: TsSchema, deleted: z.literal(true).optional() })
  .openapi('KeyMeta');

const entryBase = { key: z.string(), rev: RevSchema, ts: TsSchema };
export const JsonEntrySchema = z.object({ ...entryBase, value: z.unknown().openapi({ description: 'The JSON value.' }) }).openapi('JsonEntry');
export const BytesEntrySchema = z
  .object({ ...entryBase, base64: z.string().openapi({ description: 'The bytes, base64.' }), contentType: z.string() })
  .openapi('BytesEntry');
export const TombstoneSchema = z.object({ ...entryBase, deleted: z.literal(true) }).openapi('Tombstone');
export const EntrySchema = z.union([JsonEntrySchema, BytesEntrySchema, TombstoneSchema]).openapi('Entry');

export const ListQuery = z.object({
  after: z.string().optional().openapi({ description: 'Start after this value (the previous page\'s `next`).' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ description: 'Page size, 1 to 1000.' }),
});
