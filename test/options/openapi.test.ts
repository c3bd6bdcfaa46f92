import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { SyncOptionsSchema } from '../../src/options/index.js';

describe('options in the OpenAPI document', () => {
  it('renders SyncOptions and its parts as named components with limits', () => {
    const app = new OpenAPIHono();
    const route = createRoute({
      method: 'patch',
      path: '/options',
      request: { body: { content: { 'application/json': { schema: z.object({ options: SyncOptionsSchema }) } } } },
      responses: { 204: { description: 'ok' } },
    });
    app.openapi(route, (c) => c.body(null, 204));
    const doc = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 't', version: '1' } });
    const schemas = doc.components?.schemas ?? {};
    expect(Object.keys(schemas).sort()).toEqual(['SyncFilter', 'SyncOptions', 'SyncOrderRule', 'SyncWalk']);
    const options = schemas.SyncOptions as { additionalProperties?: unknown; example?: unknown };
    expect(options.additionalProperties).toBe(false);
    expect(options.example).toBeDefined();
    const walk = schemas.SyncWalk as { properties: { refs: { maxItems?: number; items: { maxLength?: number } } } };
    expect(walk.properties.refs.maxItems).toBe(20);
    expect(walk.properties.refs.items.maxLength).toBe(1024);
    const rule = schemas.SyncOrderRule as { properties: { rank: { type?: string; maximum?: number } } };
    expect(rule.properties.rank).toMatchObject({ type: 'integer', maximum: Number.MAX_SAFE_INTEGER });
  });
});
