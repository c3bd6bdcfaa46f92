import { describe, expect, it } from 'vitest';
import { OPTION_LIMITS, SyncOptionsSchema } from '../../src/options/index.js';

/** The issues of a failed parse as `path: message` lines. */
function issues(input: unknown): string[] {
  const result = SyncOptionsSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('sync options schema', () => {
  it('accepts the documented example and an empty object', () => {
    const example = {
      filter: { prefixes: ['app/'], excludePrefixes: ['app/tmp/'] },
      order: [{ prefix: 'db', rank: 1 }],
      walk: { roots: ['root'], refs: ['$.children[*]', '$..address'] },
    };
    expect(SyncOptionsSchema.parse(example)).toEqual(example);
    expect(SyncOptionsSchema.parse({})).toEqual({});
  });

  it('rejects unknown fields at every level with their path', () => {
    expect(issues({ filters: {} })).toEqual([expect.stringMatching(/^: .*filters/)]);
    expect(issues({ filter: { prefix: ['a'] } })).toEqual([expect.stringMatching(/^filter: .*prefix/)]);
    expect(issues({ order: [{ prefix: 'a', rank: 1, weight: 2 }] })).toEqual([expect.stringMatching(/^order\.0: .*weight/)]);
    expect(issues({ walk: { roots: ['r'], refs: [], depth: 3 } })).toEqual([expect.stringMatching(/^walk: .*depth/)]);
  });

  it('rejects a bad JSON path naming the path and the position', () => {
    const found = issues({ walk: { roots: ['r'], refs: ['$.ok[*]', '$.children[?(@.x)]'] } });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^walk\.refs\.1: invalid JSON path "\$\.children\[\?\(@\.x\)\]": filter and script expressions are not supported \(at character 11\)/,
    );
    expect(issues({ walk: { roots: ['r'], refs: ['children[*]'] } })[0]).toMatch(/^walk\.refs\.0: .*must start with '\$'/);
    expect(issues({ walk: { roots: ['r'], refs: ['$.a['] } })[0]).toMatch(/^walk\.refs\.0: /);
  });

  it('rejects arrays over their limits with the array path', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);
    expect(issues({ filter: { prefixes: many(OPTION_LIMITS.prefixes) } })).toEqual([]);
    expect(issues({ filter: { prefixes: many(OPTION_LIMITS.prefixes + 1) } })).toEqual([expect.stringMatching(/^filter\.prefixes: .*100/)]);
    expect(issues({ filter: { excludePrefixes: many(101) } })).toEqual([expect.stringMatching(/^filter\.excludePrefixes: /)]);
    expect(issues({ order: many(101).map((prefix) => ({ prefix, rank: 1 })) })).toEqual([expect.stringMatching(/^order: /)]);
    expect(issues({ walk: { roots: many(101), refs: [] } })).toEqual([expect.stringMatching(/^walk\.roots: /)]);
    expect(issues({ walk: { roots: ['r'], refs: many(21).map((n) => `$.${n}`) } })).toEqual([expect.stringMatching(/^walk\.refs: /)]);
  });

  it('measures strings in UTF-8 bytes, not characters', () => {
    expect(issues({ filter: { prefixes: ['é'.repeat(512)] } })).toEqual([]);
    expect(issues({ filter: { prefixes: ['é'.repeat(513)] } })).toEqual([expect.stringMatching(/^filter\.prefixes\.0: .*1024 bytes/)]);
    expect(issues({ walk: { roots: ['x'.repeat(1025)], refs: [] } })).not.toEqual([]);
  });

  it('rejects texts no key can hold', () => {
    expect(issues({ filter: { prefixes: ['a\u0000'] } })).toEqual([expect.stringMatching(/^filter\.prefixes\.0: .*U\+0000/)]);
    expect(issues({ filter: { prefixes: ['\ud800'] } })).toEqual([expect.stringMatching(/^filter\.prefixes\.0: /)]);
    expect(issues({ walk: { roots: [''], refs: [] } })).toEqual([expect.stringMatching(/^walk\.roots\.0: /)]);
  });

  it('requires safe integer ranks and unique order prefixes', () => {
    expect(issues({ order: [{ prefix: 'a', rank: 1.5 }] })).toEqual([expect.stringMatching(/^order\.0\.rank: /)]);
    expect(issues({ order: [{ prefix: 'a', rank: 2 ** 53 }] })).toEqual([expect.stringMatching(/^order\.0\.rank: /)]);
    expect(issues({ order: [{ prefix: 'a', rank: -3 }] })).toEqual([]);
    expect(
      issues({
        order: [
          { prefix: 'a', rank: 1 },
          { prefix: 'b', rank: 1 },
          { prefix: 'a', rank: 2 },
        ],
      }),
    ).toEqual(['order.2.prefix: duplicate prefix, already ranked by rule 0']);
  });

  it('requires at least one walk root and both walk fields', () => {
    expect(issues({ walk: { roots: [], refs: [] } })).toEqual([expect.stringMatching(/^walk\.roots: /)]);
    expect(issues({ walk: { roots: ['r'] } })).toEqual([expect.stringMatching(/^walk\.refs: /)]);
  });
});
