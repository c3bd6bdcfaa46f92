/** Wire schemas shared by the route definitions; they are also the OpenAPI components. */
import { z } from '@hono/zod-openapi';
import { PROBLEMS, PROBLEM_TYPE_BASE, type ProblemKind } from '@keysync/protocol';
import { SyncOptionsSchema } from '../options/index.js';

const FieldErrorSchema = z
  .object({
    path: z.string().openapi({ description: 'The offending field: dotted path into the body (`ops.0.key`), a parameter or header name, or `(body)`.' }),
    message: z.string().openapi({ description: 'What is wrong with it.' }),
  })
  .openapi('FieldError', { description: 'One offending field of a request.' });

const problemFields = {
  title: z.string().openapi({ description: 'Short summary of the problem type.', example: 'Validation Failed' }),
  status: z.number().int().openapi({ description: 'The HTTP status of the response.', example: 400 }),
  detail: z.string().optional().openapi({ description: 'What went wrong with this request, for a human.', example: 'The request is not valid' }),
};

const typeUri = (kind: ProblemKind) => PROBLEM_TYPE_BASE + kind;
const OTHER_KINDS = (Object.values(PROBLEMS) as ProblemKind[]).filter((k) => k !== PROBLEMS.validation).map(typeUri);

export const ValidationProblemSchema = z
  .object({
    type: z.literal(typeUri(PROBLEMS.validation)).openapi({ description: 'The problem type.' }),
    ...problemFields,
    errors: z.array(FieldErrorSchema).openapi({ description: 'Each offending field and why.' }),
  })
  .openapi('ValidationProblem', { description: 'A request that failed validation (400): `errors` names every offending field.' });

export const GeneralProblemSchema = z
  .object({
    type: z.enum(OTHER_KINDS as [string, ...string[]]).openapi({
      description: 'The problem type: `https://keysync.dev/problems/` followed by its kind. docs/API.md lists each with its status.',
      example: typeUri(PROBLEMS.sincePurged),
    }),
    ...problemFields,
  })
  .openapi('GeneralProblem', { description: 'Any other problem: the `type` says which, `detail` says why.' });

export const ProblemSchema = z.discriminatedUnion('type', [ValidationProblemSchema, GeneralProblemSchema]).openapi('Problem', {
  description: 'RFC 9457 problem details (`application/problem+json`); every error response has this shape. Dispatch on `type`.',
});

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
  description:
    'The key, percent-encoded as one path segment (`users/42` is `users%2F42`). The keys `.` and `..` cannot be sent ' +
    'in a path by clients that normalise URLs: use the `/key?key=` form for them.',
  example: 'users%2F42',
});

export const KeyQueryParam = z.string().openapi({
  param: { name: 'key', in: 'query' },
  description: 'The key, percent-encoded as a query value (`+` is a space). Reaches every key, `.` and `..` included.',
  example: 'users/42',
});

export const RevSchema = z.number().int().min(0).openapi({
  description: 'Store revision: 1, 2, 3, ... per store, in commit order (a safe integer).',
  example: 42,
});

/**
 * A timestamp as the server writes it: RFC 3339 in UTC with exactly six
 * fractional digits. `description` says which moment it is.
 */
export const timestamp = (description: string) =>
  z.string().openapi({ description: `${description} RFC 3339, UTC, microseconds.`, example: '2026-11-26T07:31:34.123456Z' });

/** The ts of a write. */
export const TsSchema = timestamp('When the server committed the write (strictly increasing per store); send it back unchanged in a `have` map.');

export const StoreConfigSchema = z
  .object({ scope: z.uuid().openapi({ description: 'A UUID; part of the config like any other member.', example: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890' }) })
  .catchall(z.unknown())
  .openapi('StoreConfig', {
    description: 'Any JSON object with a `scope` UUID; the store id is derived from it.',
    example: { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', backend: 'file', path: 'data/my-store' },
  });

export const StoreSchema = z
  .object({
    storeId: z.uuid().openapi({ description: 'UUIDv5 of the RFC 8785 canonical config.' }),
    config: StoreConfigSchema,
    options: SyncOptionsSchema,
    headRev: RevSchema.openapi({ description: "The rev of the store's latest write (0 before the first)." }),
    createdAt: timestamp('When the store was registered.'),
  })
  .openapi('Store', { description: 'A registered store.' });

const KeyField = z.string().openapi({ description: 'The key (not encoded).', example: 'users/42' });
const DeletedField = z.literal(true).openapi({ description: 'Present (and true) only when the key is deleted: a tombstone.' });

export const WriteResultSchema = z
  .object({ key: KeyField, rev: RevSchema, ts: TsSchema, deleted: DeletedField.optional() })
  .openapi('WriteResult', { description: 'The rev and ts a write was given; `deleted: true` for a delete.' });

/** The same shape as a write's result, under its own name (the generated clients' `KeyMeta` type). */
export const KeyMetaSchema = WriteResultSchema.openapi('KeyMeta', {
  description: "A key's latest rev and ts, without its value; `deleted: true` for a tombstone.",
});

const entryBase = { key: KeyField, rev: RevSchema, ts: TsSchema };
/** z.unknown() accepts undefined, so generators would call the field optional; the server always sends it. */
const requiredJson = (description: string) =>
  z
    .unknown()
    .refine((v) => v !== undefined, 'required')
    .openapi({ description });

export const JsonEntrySchema = z
  .object({
    ...entryBase,
    kind: z.literal('json').openapi({ description: 'The entry holds a JSON value.' }),
    value: requiredJson('The JSON value, exactly as written (whitespace aside).'),
  })
  .openapi('JsonEntry', { description: 'A key holding a JSON value.' });
export const BytesEntrySchema = z
  .object({
    ...entryBase,
    kind: z.literal('bytes').openapi({ description: 'The entry holds bytes.' }),
    base64: z.string().openapi({ description: 'The bytes, standard base64 with padding.' }),
    contentType: z.string().openapi({ description: 'The content type the bytes were written with.', example: 'image/png' }),
  })
  .openapi('BytesEntry', { description: 'A key holding bytes with a content type.' });
export const TombstoneSchema = z
  .object({
    ...entryBase,
    kind: z.literal('tombstone').openapi({ description: 'The key was deleted.' }),
    deleted: z.literal(true).openapi({ description: 'Always true.' }),
  })
  .openapi('Tombstone', { description: 'A deleted key: the replica deletes it (if it holds an older rev).' });
export const EntrySchema = z
  .discriminatedUnion('kind', [JsonEntrySchema, BytesEntrySchema, TombstoneSchema])
  .openapi('Entry', { description: 'A key at its latest rev, as batches and live events carry it; `kind` says which of the three.' });
export const ValueEntrySchema = z
  .discriminatedUnion('kind', [JsonEntrySchema, BytesEntrySchema])
  .openapi('ValueEntry', { description: 'A key holding a value (the data of `event: put`).' });

export const ListQuery = z.object({
  after: z.string().optional().openapi({ description: "Start after this value (the previous page's `next`)." }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).openapi({ description: 'Page size, 1 to 1000.' }),
});
