import { createRoute, z } from '@hono/zod-openapi';
import { requireAccess } from '../http/auth.js';
import { jsonBody } from '../http/json-body.js';
import { limitBody, requireJson } from '../http/request.js';
import { StoreIdParam, canonicalUuid, limitProblems, problem, timestamp } from '../http/schemas.js';

const tags = ['Tokens'];
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const common = {
  400: problem('The request is not valid'),
  401: problem('No or unknown token'),
  403: problem('Only the admin token may manage tokens'),
  404: problem('No such store (or token)'),
  ...limitProblems,
};

const ScopeSchema = z.enum(['read', 'write']).openapi({ description: '`read`: reads, sync and the live feed of the store; `write` also writes.' });
const TokenId = canonicalUuid().openapi({ description: "The token's id (not its secret): names it for revocation." });
const IssuedAt = timestamp('When the token was issued.');
const TokenIdParam = canonicalUuid().openapi({ param: { name: 'tokenId', in: 'path' }, description: 'Token id (not the secret).' });

export const TokenInfoSchema = z
  .object({ id: TokenId, scope: ScopeSchema, createdAt: IssuedAt })
  .openapi('TokenInfo', { description: 'A token without its secret.' });

export const NewTokenSchema = z
  .object({
    id: TokenId,
    token: z.string().openapi({ description: 'The bearer secret. Shown only in this response; the server keeps its SHA-256.', example: 'q0yL9v1m3k...' }),
    scope: ScopeSchema,
    createdAt: IssuedAt,
  })
  .openapi('NewToken', { description: 'A new token with its secret (shown this once).' });

export const createTokenRoute = createRoute({
  operationId: 'createToken',
  middleware: [requireAccess('admin'), requireJson, limitBody(4096, 'The request body'), jsonBody({ envelope: 1 })],
  method: 'post',
  path: '/v1/stores/{storeId}/tokens',
  tags,
  summary: 'Issue a store token',
  description: 'Issues a `read` or `write` token valid for this store only (401 on every other store). The secret is returned once. Admin only.',
  request: {
    params: z.object({ storeId: StoreIdParam }),
    body: { required: true, content: json(z.object({ scope: ScopeSchema }).strict().openapi('CreateToken', { description: 'The scope of the new token.' })) },
  },
  responses: {
    201: { description: 'Issued', content: json(NewTokenSchema) },
    ...common,
    415: problem('The body is not application/json'),
  },
});

export const listTokensRoute = createRoute({
  operationId: 'listTokens',
  middleware: [requireAccess('admin')],
  method: 'get',
  path: '/v1/stores/{storeId}/tokens',
  tags,
  summary: 'List store tokens',
  description: "The store's tokens without their secrets, oldest first. Admin only.",
  request: { params: z.object({ storeId: StoreIdParam }) },
  responses: {
    200: {
      description: 'The tokens',
      content: json(
        z
          .object({ items: z.array(TokenInfoSchema).openapi({ description: "The store's tokens, without their secrets." }) })
          .openapi('TokenList', { description: 'The tokens of a store.' }),
      ),
    },
    ...common,
  },
});

export const revokeTokenRoute = createRoute({
  operationId: 'revokeToken',
  middleware: [requireAccess('admin')],
  method: 'delete',
  path: '/v1/stores/{storeId}/tokens/{tokenId}',
  tags,
  summary: 'Revoke a store token',
  description: 'The token stops working at once; live feeds it opened get `event: revoked` and close. Admin only.',
  request: { params: z.object({ storeId: StoreIdParam, tokenId: TokenIdParam }) },
  responses: { 204: { description: 'Revoked' }, ...common },
});
