import { MAX_MEDIA_TYPE_LENGTH, MEDIA_TYPE_MESSAGE, MEDIA_TYPE_PATTERN } from '../http/media-type.js';
import { createRoute, z } from '@hono/zod-openapi';
import { requireAccess } from '../http/auth.js';
import { jsonBody, jsonValueBody } from '../http/json-body.js';
import { limitBody, plainIntegerParams, requireJson } from '../http/request.js';
import { KeyMetaSchema, KeyParam, KeyQueryParam, ListQuery, StoreIdParam, WriteResultSchema, limitProblems, problem } from '../http/schemas.js';

const tags = ['Keys'];
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const common = {
  400: problem('The request is not valid (bad key, malformed JSON, bad header)'),
  401: problem('No or unknown token'),
  403: problem('The token lacks the scope or belongs to another store'),
  ...limitProblems,
  404: problem('No such store (or key)'),
};

const byPath = z.object({ storeId: StoreIdParam, key: KeyParam });
const byQuery = { params: z.object({ storeId: StoreIdParam }), query: z.object({ key: KeyQueryParam }) };
const QUERY_FORM =
  ' The same operation as on `/keys/{key}`, with the key in the `key` query parameter: this form reaches every key, ' +
  'including `.` and `..`, which URL-normalising clients rewrite when they are a path segment.';

const putHeaders = z.object({
  'if-match': z.string().optional().openapi({ description: 'Write only if the key is at this rev, e.g. `"42"`.' }),
  'if-none-match': z.string().optional().openapi({ description: '`*`: write only if the key does not exist.' }),
});
const putBody = {
  required: true,
  content: {
    // Plain schemas (not zod): the handler reads the raw body itself, so any content type is accepted.
    'application/json': { schema: { description: 'Any JSON value.', example: { name: 'Ada' } } },
    '*/*': { schema: { type: 'string', format: 'binary', description: 'Bytes; the content type is kept with the value.' } },
  },
} as const;
const putResponses = {
  200: { description: 'Written', content: json(WriteResultSchema) },
  ...common,
  412: problem('If-Match or If-None-Match did not hold (precondition-failed)'),
  413: problem('The value is larger than KEYSYNC_MAX_VALUE_BYTES (payload-too-large)'),
};
const valueWriteGuards = [requireAccess('write'), limitBody((limits) => limits.maxValueBytes, 'The value'), jsonValueBody];
const PUT_DESCRIPTION =
  'The body is the value: `application/json` stores JSON, any other content type stores the bytes with that type. ' +
  '`If-Match: "<rev>"` writes only if the key is at that rev; `If-None-Match: *` only if it does not exist. Write scope.';

export const putKeyRoute = createRoute({
  operationId: 'putKey',
  middleware: valueWriteGuards,
  method: 'put',
  path: '/v1/stores/{storeId}/keys/{key}',
  tags,
  summary: 'Write a key',
  description: PUT_DESCRIPTION,
  request: { params: byPath, headers: putHeaders, body: putBody },
  responses: putResponses,
});

export const putKeyByQueryRoute = createRoute({
  operationId: 'putKeyByQuery',
  middleware: valueWriteGuards,
  method: 'put',
  path: '/v1/stores/{storeId}/key',
  tags,
  summary: 'Write a key (key in the query)',
  description: PUT_DESCRIPTION + QUERY_FORM,
  request: { ...byQuery, headers: putHeaders, body: putBody },
  responses: putResponses,
});

const getHeaders = z.object({ 'if-none-match': z.string().optional().openapi({ description: 'An ETag from an earlier read; 304 when unchanged.' }) });
const getResponses = {
  200: {
    description: 'The value: JSON as written, or the bytes with the content type they were written with',
    headers: z.object({
      ETag: z.string().openapi({ description: 'The rev, quoted.', example: '"42"' }),
      'X-Keysync-Rev': z.string().openapi({ description: 'The rev of the value.', example: '42' }),
      'X-Keysync-Ts': z.string().openapi({ description: 'The ts of the value.', example: '2026-11-26T07:31:34.123456Z' }),
    }),
    content: {
      'application/json': { schema: z.unknown().openapi({ description: 'The JSON value.' }) },
      'application/octet-stream': { schema: z.string().openapi({ format: 'binary', description: 'The bytes (served with their own content type).' }) },
    },
  },
  304: { description: 'Not modified (If-None-Match matched)' },
  ...common,
};
const GET_DESCRIPTION = 'The value with its content type, `ETag: "<rev>"`, `X-Keysync-Rev` and `X-Keysync-Ts`. 404 when absent or deleted. Read scope.';

export const getKeyRoute = createRoute({
  operationId: 'getKey',
  middleware: [requireAccess('read')],
  method: 'get',
  path: '/v1/stores/{storeId}/keys/{key}',
  tags,
  summary: 'Read a key',
  description: GET_DESCRIPTION,
  request: { params: byPath, headers: getHeaders },
  responses: getResponses,
});

export const getKeyByQueryRoute = createRoute({
  operationId: 'getKeyByQuery',
  middleware: [requireAccess('read')],
  method: 'get',
  path: '/v1/stores/{storeId}/key',
  tags,
  summary: 'Read a key (key in the query)',
  description: GET_DESCRIPTION + QUERY_FORM,
  request: { ...byQuery, headers: getHeaders },
  responses: getResponses,
});

const deleteHeaders = z.object({ 'if-match': z.string().optional().openapi({ description: 'Delete only if the key is at this rev, e.g. `"42"`.' }) });
const deleteResponses = {
  200: { description: "Deleted: the tombstone's rev and ts", content: json(WriteResultSchema) },
  ...common,
  412: problem('If-Match did not hold (precondition-failed)'),
};
const DELETE_DESCRIPTION = 'Writes a tombstone, synced like a write. 404 when the key is absent or already deleted. Write scope.';

export const deleteKeyRoute = createRoute({
  operationId: 'deleteKey',
  middleware: [requireAccess('write')],
  method: 'delete',
  path: '/v1/stores/{storeId}/keys/{key}',
  tags,
  summary: 'Delete a key',
  description: DELETE_DESCRIPTION,
  request: { params: byPath, headers: deleteHeaders },
  responses: deleteResponses,
});

export const deleteKeyByQueryRoute = createRoute({
  operationId: 'deleteKeyByQuery',
  middleware: [requireAccess('write')],
  method: 'delete',
  path: '/v1/stores/{storeId}/key',
  tags,
  summary: 'Delete a key (key in the query)',
  description: DELETE_DESCRIPTION + QUERY_FORM,
  request: { ...byQuery, headers: deleteHeaders },
  responses: deleteResponses,
});

const OpKey = z.string().openapi({ description: 'The key (not encoded; any key, `.` and `..` included).', example: 'users/42' });
const PutLiteral = z.literal('put').openapi({ description: 'Write the key.' });
const PutJsonOp = z
  .object({
    op: PutLiteral,
    key: OpKey,
    // z.unknown() accepts undefined (and generators would call it optional): a put needs its value.
    value: z
      .unknown()
      .refine((v) => v !== undefined, 'a put needs `value` (JSON) or `base64` and `contentType` (bytes)')
      .openapi({ description: 'The JSON value (any JSON, `null` included).', example: { name: 'Ada' } }),
  })
  .strict()
  .openapi('PutJsonOp', { description: 'Write a JSON value.' });
const PutBytesOp = z
  .object({
    op: PutLiteral,
    key: OpKey,
    base64: z.base64().openapi({ description: 'The bytes, standard base64.', example: 'iVBORw0KGgo=' }),
    contentType: z.string().min(1).max(MAX_MEDIA_TYPE_LENGTH).regex(new RegExp(MEDIA_TYPE_PATTERN), MEDIA_TYPE_MESSAGE).openapi({
      description: 'A media type (RFC 9110: type/subtype and parameters, ASCII), stored with the bytes and served with them.',
      example: 'image/png',
    }),
  })
  .strict()
  .openapi('PutBytesOp', { description: 'Write bytes with a content type.' });
const DeleteOp = z
  .object({ op: z.literal('delete').openapi({ description: 'Delete the key.' }), key: OpKey })
  .strict()
  .openapi('DeleteOp', { description: 'Delete a key (writes a tombstone).' });
/**
 * Validated as a flat union, JSON puts first: the usual op then matches the first branch (a branch that
 * fails builds its issues, for every op). The document describes it as `op`-discriminated
 * (put: PutOp, itself PutJsonOp | PutBytesOp by their required fields), see src/openapi.ts.
 */
export const WriteOpSchema = z.union([PutJsonOp, PutBytesOp, DeleteOp]).openapi('WriteOp', { description: 'One op of a bulk write; `op` says which.' });
export const PutOpSchema = z
  .union([PutJsonOp, PutBytesOp])
  .openapi('PutOp', { description: 'A put: `value` for JSON, or `base64` and `contentType` for bytes.' });

export const bulkWriteRoute = createRoute({
  operationId: 'bulkWrite',
  middleware: [
    requireAccess('write'),
    requireJson,
    limitBody((limits) => limits.maxBodyBytes, 'The request body'),
    // Each op's `value` is kept as the text the client wrote (json-body.ts).
    jsonBody({ envelope: 3, capture: ['ops', '*', 'value'] }),
  ],
  method: 'post',
  path: '/v1/stores/{storeId}/writes',
  tags,
  summary: 'Atomic multi-key write',
  description: 'All or nothing; ops get consecutive revs in op order, and live feeds deliver them in that order. Write scope.',
  request: {
    params: z.object({ storeId: StoreIdParam }),
    body: {
      required: true,
      content: json(
        z
          .object({ ops: z.array(WriteOpSchema).min(1).openapi({ description: 'The ops, applied in order (at most KEYSYNC_MAX_BULK_OPS).' }) })
          .strict()
          .openapi('BulkWrite', { description: 'An atomic multi-key write.' }),
      ),
    },
  },
  responses: {
    200: {
      description: 'Written',
      content: json(
        z
          .object({ results: z.array(WriteResultSchema).openapi({ description: 'One result per op, in op order.' }) })
          .openapi('BulkWriteResult', { description: 'The revs and ts the ops were given.' }),
      ),
    },
    ...common,
    413: problem('The body or a value is too large'),
    415: problem('The body is not application/json'),
  },
});

export const listKeysRoute = createRoute({
  operationId: 'listKeys',
  middleware: [plainIntegerParams, requireAccess('read')],
  method: 'get',
  path: '/v1/stores/{storeId}/keys',
  tags,
  summary: 'List key metadata',
  description: 'Keys in code point order with their rev and ts (tombstones marked `deleted`), paged.',
  request: {
    params: z.object({ storeId: StoreIdParam }),
    query: ListQuery.extend({ prefix: z.string().optional().openapi({ description: 'Only keys starting with this.' }) }),
  },
  responses: {
    200: {
      description: 'A page',
      content: json(
        z
          .object({
            items: z.array(KeyMetaSchema).openapi({ description: 'Keys in code point order, tombstones included.' }),
            next: z.string().nullable().openapi({ description: 'Pass as `after` for the next page; null on the last page.' }),
          })
          .openapi('KeyList', { description: 'A page of key metadata.' }),
      ),
    },
    ...common,
  },
});
