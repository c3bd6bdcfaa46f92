import { describe, expect, it } from 'vitest';
import { canonicalConfig, storeId } from '../src/store-id.js';

const scope = 'a1b2c3d4-e5f6-7890-abcd-ef1234567890';

describe('storeId', () => {
  it('matches the test vector of API.md', () => {
    const config = { scope, backend: 'file', path: 'data/my-store' };
    expect(canonicalConfig(config)).toBe('{"backend":"file","path":"data/my-store","scope":"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}');
    expect(storeId(config)).toBe('58c4b668-ca6b-5f9d-8989-3a4a0ff13619');
  });

  it('gives the same id whatever the key order, nested objects included', () => {
    const a = storeId({ scope, opts: { b: 1, a: [2, { d: 1, c: 2 }] }, path: 'x' });
    const b = storeId({ path: 'x', opts: { a: [2, { c: 2, d: 1 }], b: 1 }, scope });
    expect(a).toBe(b);
  });

  it('gives different ids to different configs', () => {
    expect(storeId({ scope, path: 'a' })).not.toBe(storeId({ scope, path: 'b' }));
  });

  it('returns a version 5 UUID', () => {
    expect(storeId({ scope })).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('refuses a config without scope, naming the field', () => {
    expect(() => storeId({ path: 'x' } as never)).toThrow(/"scope"/);
  });

  it('refuses a scope that is not a UUID', () => {
    expect(() => storeId({ scope: 'not-a-uuid' })).toThrow(/UUID/);
    expect(() => storeId({ scope: 42 } as never)).toThrow(/UUID/);
  });

  it('refuses configs that are not JSON objects', () => {
    expect(() => storeId(null as never)).toThrow(TypeError);
    expect(() => storeId([scope] as never)).toThrow(TypeError);
  });

  it('refuses values JSON cannot represent faithfully', () => {
    expect(() => storeId({ scope, n: Number.NaN })).toThrow(/finite/);
    expect(() => storeId({ scope, f: () => 1 })).toThrow(/JSON/);
  });
});
