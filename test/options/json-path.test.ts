import { describe, expect, it } from 'vitest';
import { compileRefs, parseRefPath } from '../../src/options/index.js';

const refs = async (paths: string[], value: unknown) => {
  const result = await compileRefs(paths)(value);
  if (!result.ok) throw new Error(`over budget: ${result.limit}`);
  return result.refs;
};

describe('ref path grammar', () => {
  it.each([
    '$',
    '$.children[*]',
    '$..address',
    '$..*',
    '$..[0]',
    "$['a b']",
    '$["a.b"]',
    '$.items[0].id',
    '$.items[-1]',
    '$.items[1:3]',
    '$.items[::2]',
    '$.$ref',
    '$.@id',
    '$.content-type',
    '$.ünïcödé',
  ])('accepts %s', (path) => {
    expect(parseRefPath(path)).toMatchObject({ ok: true });
  });

  it.each([
    ['children', 0, /start with '\$'/],
    ['$children', 1, /expected '\.' or '\['/],
    ['$.', 2, /name or \*/],
    ['$...a', 3, /cannot appear in a dot name/],
    ['$[?(@.a)]', 2, /filter and script/],
    ['$[(@.length-1)]', 2, /filter and script/],
    ['$.a^', 3, /expected '\.' or '\['/],
    ['$.a~', 3, /expected '\.' or '\['/],
    ["$['a", 2, /unterminated/],
    ["$['a,b']", 4, /"," is not supported/],
    ["$['a`b']", 4, /"`" is not supported/],
    ["$['x@string()']", 4, /"@string\(\)" is not supported/],
    ['$[01]', 3, /expected '\]'/],
    ['$[1:2:0]', 2, /step must be greater than 0/],
    ['$[1:2:3:4]', 7, /expected '\]'/],
    ['$[]', 2, /quoted name, '\*', an index or a slice/],
  ])('rejects %s at character %i', (path, index, message) => {
    const result = parseRefPath(path);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.index).toBe(index);
      expect(result.message).toMatch(message);
    }
  });
});

describe('ref extraction', () => {
  const doc = {
    children: ['c1', 'c2', { address: 'c3' }, 4, null],
    meta: { address: 'c4', deep: [{ address: 'c5' }, { address: ['not', 'a', 'string'] }] },
    name: 'abc',
  };

  it('selects the strings of array elements', async () => {
    expect(await refs(['$.children[*]'], doc)).toEqual(['c1', 'c2']);
  });

  it('selects strings at any depth with ..', async () => {
    expect((await refs(['$..address'], doc)).sort()).toEqual(['c3', 'c4', 'c5']);
  });

  it('evaluates every path and concatenates the results', async () => {
    expect(await refs(['$.name', '$.children[0]', '$.children[-1]', '$.children[-4]'], doc)).toEqual(['abc', 'c1', 'c2']);
  });

  it('does not treat the characters of a string as refs', async () => {
    expect(await refs(['$.name[0]', '$.name[*]', '$.name[0:2]'], doc)).toEqual([]);
  });

  it('selects a string value itself with $', async () => {
    expect(await refs(['$'], 'other-key')).toEqual(['other-key']);
    expect(await refs(['$'], { a: 1 })).toEqual([]);
  });

  it('finds nothing in scalars, null and byte values', async () => {
    for (const value of [undefined, null, 0, 1, false, true, '']) expect(await refs(['$..*', '$.a'], value)).toEqual([]);
  });

  it('reads names that are operators elsewhere as plain member names', async () => {
    const value = { '*': 's', $: 'd', '..': 'dd', 'a.b': 'dot', 'x~y': 'tilde', '': 'empty', 'a b': 'space', other: 'no' };
    expect(await refs(["$['*']", "$['$']", "$['..']", "$['a.b']", "$['x~y']", "$['']", "$['a b']"], value)).toEqual([
      's',
      'd',
      'dd',
      'dot',
      'tilde',
      'empty',
      'space',
    ]);
  });

  it('selects exactly the named member for every printable ASCII character a quoted name accepts', async () => {
    for (let code = 0x20; code < 0x7f; code++) {
      const ch = String.fromCharCode(code);
      for (const name of [ch, `a${ch}`, `${ch}b`, `a${ch}b`, `${ch}${ch}`]) {
        const path = `$['${name}']`;
        if (!parseRefPath(path).ok) continue;
        // Decoys: names a sloppy tokenizer would confuse with this one.
        const value: Record<string, string> = { a: 'decoy', b: 'decoy', ab: 'decoy', [ch]: 'decoy', '*': 'decoy' };
        value[name] = 'hit';
        expect(await refs([path], value), path).toEqual(['hit']);
      }
    }
  });
});
