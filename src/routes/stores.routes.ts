import { createRoute, z } from '@hono/zod-openapi';
import { requireAccess } from '../http/auth.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody, plainIntegerParams } from '../http/request.js';
import { SyncOptionsSchema } from '../options/index.js';
import { ListQuery, StoreConfigSchema, StoreIdParam, StoreSchema, limitProblems, problem } from '../http/schemas.js';

const tags = ['Stores'];
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const common = {
  400: problem('The request is not valid'),
  401: problem('No or unknown token'),
  403: problem('The token lacks the scope or belongs to another store'),
  ...limitProblems,
  415: problem('The body is not application/json'),
};

/** A body of config or options: JSON (jsonBody answers 415 otherwise), at most KEYSYNC_MAX_BODY_BYTES. */
const configBodyGuards = [limitBody((limits) => limits.maxBodyBytes, 'The request body'), jsonBody({ envelope: 1 })];

export const registerStoreRoute = createRoute({
  operationId: 'registerStore',
  middleware: [requireAccess('admin'), ...configBodyGuards],
  method: 'post',
  path: '/v1/stores',
  tags,
  summary: 'Register a store',
  description:
    'Registers the store whose id is derived from `config`. Idempotent: the same config again answers 200 with the existing store (options unchanged; use PATCH). Admin only.',
  request: {
    body: {
      required: true,
      content: json(
        z
          .object({ config: StoreConfigSchema, options: SyncOptionsSchema.optional() })
          .strict()
          .openapi('RegisterStore', { description: 'The config the store id is derived from, and optional sync options.' }),
      ),
    },
  },
  responses: {
    201: { description: 'Registered', content: json(StoreSchema) },
    200: { description: 'Already registered with this config', content: json(StoreSchema) },
    ...common,
  },
});

export const listStoresRoute = createRoute({
  operationId: 'listStores',
  middleware: [plainIntegerParams, requireAccess('admin')],
  method: 'get',
  path: '/v1/stores',
  tags,
  summary: 'List stores',
  description: 'Stores in id order, paged. Admin only.',
  request: { query: ListQuery },
  responses: {
    200: {
      description: 'A page of stores',
      content: json(
        z
          .object({
            items: z.array(StoreSchema).openapi({ description: 'Stores in id order.' }),
            next: z.string().nullable().openapi({ description: 'Pass as `after` for the next page; null on the last page.' }),
          })
          .openapi('StoreList', { description: 'A page of stores.' }),
      ),
    },
    ...common,
  },
});

export const getStoreRoute = createRoute({
  operationId: 'getStore',
  middleware: [requireAccess('read')],
  method: 'get',
  path: '/v1/stores/{storeId}',
  tags,
  summary: 'Get a store',
  request: { params: z.object({ storeId: StoreIdParam }) },
  responses: {
    200: { description: 'The store', content: json(StoreSchema) },
    404: problem('No such store'),
    ...common,
  },
});

export const patchStoreRoute = createRoute({
  operationId: 'patchStore',
  middleware: [requireAccess('admin'), ...configBodyGuards],
  method: 'patch',
  path: '/v1/stores/{storeId}',
  tags,
  summary: 'Replace sync options',
  description: "Replaces the store's `options` (filter, order, walk) as a whole. Admin only.",
  request: {
    params: z.object({ storeId: StoreIdParam }),
    body: {
      required: true,
      content: json(
        z.object({ options: SyncOptionsSchema }).strict().openapi('PatchStore', { description: 'The new sync options, replacing the old as a whole.' }),
      ),
    },
  },
  responses: {
    200: { description: 'The store with its new options', content: json(StoreSchema) },
    404: problem('No such store'),
    ...common,
  },
});

export const deleteStoreRoute = createRoute({
  operationId: 'deleteStore',
  middleware: [requireAccess('admin')],
  method: 'delete',
  path: '/v1/stores/{storeId}',
  tags,
  summary: 'Unregister a store',
  description: 'Removes the store and all its keys; open live feeds get `event: store-deleted` and close. Admin only.',
  request: { params: z.object({ storeId: StoreIdParam }) },
  responses: { 204: { description: 'Deleted' }, 404: problem('No such store'), ...common },
});
