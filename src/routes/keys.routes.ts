import { MAX_MEDIA_TYPE_LENGTH, MEDIA_TYPE_MESSAGE, MEDIA_TYPE_PATTERN } from '../http/media-type.js';
import { createRoute, z } from '@hono/zod-openapi';
import { KeyMetaSchema, KeyParam, ListQuery, StoreIdParam, WriteResultSchema, limitProblems, problem } from '../http/schemas.js';

const tags = ['Keys'];
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const params = z.object({ storeId: StoreIdParam, key: KeyParam });
const common = {
  400: problem('The request is not valid (bad key, malformed JSON, bad header)'),
  401: problem('No or unknown token'),
  403: problem('The token lacks the scope or belongs to another store'),
  ...limitProblems,
  404: problem('No such store (or key)'),
};

export const putKeyRoute = createRoute({
  operationId: 'putKey',
  method: 'put',
  path: '/v1/stores/{storeId}/keys/{key}',
  tags,
  summary: 'Write a key',
  description:
    'The body is the value: `application/json` stores JSON, any other content type stores the bytes with that type. ' +
    '`If-Match: "<rev>"` writes only if the key is at that rev; `If-None-Match: *` only if it does not exist. Write scope.',
  request: {
    params,
    headers: z.object({
      'if-match': z.string().optional().openapi({ description: 'Write only if the key is at this rev, e.g. `"42"`.' }),
      'if-none-match': z.string().optional().openapi({ description: '`*`: write only if the key does not exist.' }),
    }),
    body: {
      required: true,
      content: {
        // Plain schemas (not zod): the handler reads the raw body itself, so any content type is accepted.
        'application/json': { schema: { description: 'Any JSON value.', example: { name: 'Ada' } } },
        '*/*': { schema: { type: 'string', format: 'binary', description: 'Bytes; the content type is kept with the value.' } },
      },
    },
  },
  responses: {
    200: { description: 'Written', content: json(WriteResultSchema) },
    ...common,
    412: problem('If-Match or If-None-Match did not hold'),
    413: problem('The value is larger than KEYSYNC_MAX_VALUE_BYTES'),
  },
});

export const getKeyRoute = createRoute({
  operationId: 'getKey',
  method: 'get',
  path: '/v1/stores/{storeId}/keys/{key}',
  tags,
  summary: 'Read a key',
  description: 'The value with its content type, `ETag: "<rev>"`, `X-Keysync-Rev` and `X-Keysync-Ts`. 404 when absent or deleted.',
  request: {
    params,
    headers: z.object({ 'if-none-match': z.string().optional().openapi({ description: 'An ETag from an earlier read; 304 when unchanged.' }) }),
  },
  responses: {
    200: {
      description: 'The value',
      headers: z.object({
        ETag: z.string().openapi({ example: '"42"' }),
        'X-Keysync-Rev': z.string().openapi({ example: '42' }),
        'X-Keysync-Ts': z.string().openapi({ example: '2026-11-26T07:31:34.123456Z' }),
      }),
      content: {
        'application/json': { schema: z.unknown() },
        'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) },
      },
    },
    304: { description: 'Not modified (If-None-Match matched)' },
    ...common,
  },
});

export const deleteKeyRoute = createRoute({
  operationId: 'deleteKey',
  method: 'delete',
  path: '/v1/stores/{storeId}/keys/{key}',
  tags,
  summary: 'Delete a key',
  description: 'Writes a tombstone, synced like a write. Write scope.',
  request: { params, headers: z.object({ 'if-match': z.string().optional() }) },
  responses: { 200: { description: 'Deleted', content: json(WriteResultSchema) }, ...common, 412: problem('If-Match did not hold') },
});

const PutJsonOp = z.object({ op: z.literal('put'), key: z.string(), value: z.unknown() }).strict().openapi('PutJsonOp');
const PutBytesOp = z
  .object({
    op: z.literal('put'),
    key: z.string(),
    base64: z.base64(),
    contentType: z.string().min(1).max(MAX_MEDIA_TYPE_LENGTH).regex(new RegExp(MEDIA_TYPE_PATTERN), MEDIA_TYPE_MESSAGE),
  })
  .strict()
  .openapi('PutBytesOp');
const DeleteOp = z.object({ op: z.literal('delete'), key: z.string() }).strict().openapi('DeleteOp');
export const WriteOpSchema = z.union([PutBytesOp, PutJsonOp, DeleteOp]).openapi('WriteOp');

export const bulkWriteRoute = createRoute({
  operationId: 'bulkWrite',
  method: 'post',
  path: '/v1/stores/{storeId}/writes',
  tags,
  summary: 'Atomic multi-key write',
  description: 'All or nothing; ops get consecutive revs in op order, and live feeds deliver them in that order. Write scope.',
  request: {
    params: z.object({ storeId: StoreIdParam }),
    body: { required: true, content: json(z.object({ ops: z.array(WriteOpSchema).min(1) }).strict().openapi('BulkWrite')) },
  },
  responses: {
    200: { description: 'Written', content: json(z.object({ results: z.array(WriteResultSchema) }).openapi('BulkWriteResult')) },
    ...common,
    413: problem('The body or a value is too large'),
    415: problem('The body is not application/json'),
  },
});

export const listKeysRoute = createRoute({
  operationId: 'listKeys',
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
    200: { description: 'A page', content: json(z.object({ items: z.array(KeyMetaSchema), next: z.string().nullable() }).openapi('KeyList')) },
    ...common,
  },
});
