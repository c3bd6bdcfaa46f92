import { describe, expect, it } from 'vitest';
import { OPEN_POLICY, compilePolicy } from '../../src/options/index.js';

describe('key filter', () => {
  it('passes every key when no filter is given', () => {
    const policy = compilePolicy({});
    expect(policy).toBe(OPEN_POLICY);
    expect(policy.includesKey('anything')).toBe(true);
    expect(compilePolicy(undefined).includesKey('x')).toBe(true);
  });

  it('passes every key when both prefix lists are empty', () => {
    const policy = compilePolicy({ filter: { prefixes: [], excludePrefixes: [] } });
    expect(policy.includesKey('a')).toBe(true);
    expect(policy.includesKey('')).toBe(true);
  });

  it('passes only keys starting with one of the prefixes', () => {
    const policy = compilePolicy({ filter: { prefixes: ['users/', 'db'] } });
    expect(policy.includesKey('users/1')).toBe(true);
    expect(policy.includesKey('db')).toBe(true);
    expect(policy.includesKey('dbx/1')).toBe(true);
    expect(policy.includesKey('user')).toBe(false);
    expect(policy.includesKey('other/users/1')).toBe(false);
  });

  it('drops keys starting with an excluded prefix and keeps the rest', () => {
    const policy = compilePolicy({ filter: { excludePrefixes: ['tmp/'] } });
    expect(policy.includesKey('tmp/1')).toBe(false);
    expect(policy.includesKey('tmp')).toBe(true);
    expect(policy.includesKey('a/tmp/1')).toBe(true);
  });

  it('lets an excluded prefix win over an included one', () => {
    const policy = compilePolicy({ filter: { prefixes: ['app/'], excludePrefixes: ['app/tmp/'] } });
    expect(policy.includesKey('app/x')).toBe(true);
    expect(policy.includesKey('app/tmp/x')).toBe(false);
    expect(policy.includesKey('other')).toBe(false);
  });

  it('treats the empty prefix as matching every key', () => {
    expect(compilePolicy({ filter: { prefixes: [''] } }).includesKey('x')).toBe(true);
    expect(compilePolicy({ filter: { excludePrefixes: [''] } }).includesKey('x')).toBe(false);
  });

  it('keeps the meaning of overlapping and repeated prefixes', () => {
    const policy = compilePolicy({ filter: { prefixes: ['ab', 'a', 'b/c', 'a', 'b/'], excludePrefixes: ['x/y', 'x/'] } });
    expect(policy.includesKey('a')).toBe(true);
    expect(policy.includesKey('ac')).toBe(true);
    expect(policy.includesKey('b/d')).toBe(true);
    expect(policy.includesKey('b')).toBe(false);
    expect(policy.includesKey('c')).toBe(false);
    expect(compilePolicy({ filter: { excludePrefixes: ['x/y', 'x/'] } }).includesKey('x/z')).toBe(false);
    expect(compilePolicy({ filter: { excludePrefixes: ['x/y', 'x/'] } }).includesKey('x')).toBe(true);
  });

  it('compares unicode prefixes exactly', () => {
    const policy = compilePolicy({ filter: { prefixes: ['ü/', '😀'] } });
    expect(policy.includesKey('ü/1')).toBe(true);
    expect(policy.includesKey('u/1')).toBe(false);
    expect(policy.includesKey('😀 smile')).toBe(true);
  });
});

describe('delivery rank', () => {
  it('gives rank 0 to every key without order rules', () => {
    expect(OPEN_POLICY.rankOf('x')).toBe(0);
    expect(OPEN_POLICY.ranks).toEqual([0]);
  });

  it('takes the rank of the longest matching prefix, else 0', () => {
    const policy = compilePolicy({
      order: [
        { prefix: 'db', rank: 1 },
        { prefix: 'db/index', rank: 3 },
        { prefix: 'd', rank: -2 },
      ],
    });
    expect(policy.rankOf('db/index/7')).toBe(3);
    expect(policy.rankOf('db/table')).toBe(1);
    expect(policy.rankOf('data')).toBe(-2);
    expect(policy.rankOf('users/1')).toBe(0);
    expect(policy.ranks).toEqual([-2, 0, 1, 3]);
    expect(policy.rankOf('db/indexes')).toBe(3);
  });

  it('leaves 0 out of the ranks when the empty prefix ranks every key', () => {
    const policy = compilePolicy({
      order: [
        { prefix: '', rank: 5 },
        { prefix: 'a', rank: 7 },
      ],
    });
    expect(policy.rankOf('b')).toBe(5);
    expect(policy.rankOf('ab')).toBe(7);
    expect(policy.ranks).toEqual([5, 7]);
  });
});

describe('library functions', () => {
  it('adds a value filter on top of the key filter', () => {
    const policy = compilePolicy({ filter: { prefixes: ['a'] } }, { filter: (_key, value) => (value as { keep?: boolean } | undefined)?.keep === true });
    expect(policy.includesKey('a1')).toBe(true);
    expect(policy.includesKey('b1')).toBe(false);
    expect(policy.includesValue?.('a1', { keep: true })).toBe(true);
    expect(policy.includesValue?.('a1', undefined)).toBe(false);
  });

  it('ranks with sortKey and leaves the possible ranks unknown', () => {
    const policy = compilePolicy({ order: [{ prefix: 'a', rank: 1 }] }, { sortKey: (key) => key.length });
    expect(policy.rankOf('abc')).toBe(3);
    expect(policy.ranks).toBeUndefined();
  });

  it('rejects a sortKey result that is not a finite number', () => {
    const policy = compilePolicy(undefined, { sortKey: () => Number.NaN });
    expect(() => policy.rankOf('x')).toThrow(/finite number/);
  });

  it('hands the configured roots to a library walk and returns its keys as a set', async () => {
    let seenRoots: string[] = [];
    const policy = compilePolicy(
      { walk: { roots: ['r1', 'r2'], refs: [] } },
      {
        walk: async (_read, roots) => {
          seenRoots = roots;
          return ['r1', 'x', 'x'];
        },
      },
    );
    const reached = await policy.walk?.(async () => new Map());
    expect(seenRoots).toEqual(['r1', 'r2']);
    expect(reached).toEqual(new Set(['r1', 'x']));
  });

  it('validates the options it compiles', () => {
    expect(() => compilePolicy({ walk: { roots: ['r'], refs: ['children'] } })).toThrow(/must start with '\$'/);
  });
});
