import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonTextError, scanJson, spanText, withPlaceholders } from '../src/json-text.js';

const accepts = (text: string) => {
  try {
    scanJson(text);
    return true;
  } catch (err) {
    if (!(err instanceof JsonTextError)) throw err;
    return false;
  }
};
const jsonParses = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
const errorOf = (text: string, opts?: Parameters<typeof scanJson>[1]) => {
  try {
    scanJson(text, opts);
  } catch (err) {
    if (err instanceof JsonTextError) return err;
    throw err;
  }
  throw new Error(`accepted: ${text}`);
};

/** JSON texts with whitespace in every place it may go. */
const spacedJson = fc.jsonValue({ maxDepth: 4 }).chain((v) =>
  fc.array(fc.constantFrom(' ', '\n', '\t', '\r', '  '), { minLength: 1, maxLength: 5 }).map((spaces) => {
    let i = 0;
    const sp = () => spaces[i++ % spaces.length]!;
    return { value: v, text: JSON.stringify(v, null, 1).replace(/\n */g, () => sp()) };
  }),
);

describe('scanJson validates JSON as JSON.parse does', () => {
  it('agrees with JSON.parse on generated texts and their mutations', () => {
    const mutated = fc
      .tuple(
        fc.json({ maxDepth: 3 }),
        fc.nat(),
        fc.constantFrom('', ' ', ',', '}', ']', '"', '\\', '0', '-', '.', 'e', '\u0001', 'x', '[', '{', ':'),
        fc.boolean(),
      )
      .map(([text, at, ch, replace]) => {
        const i = at % (text.length + 1);
        return text.slice(0, i) + ch + text.slice(replace ? i + 1 : i);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json({ maxDepth: 4 }), mutated, fc.string({ unit: 'binary-ascii' })), (text) => {
        expect(accepts(text), text).toBe(jsonParses(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with JSON.parse on tricky literals', () => {
    const cases = [
      '',
      ' ',
      '0',
      '-0',
      '01',
      '-01',
      '1.',
      '.1',
      '1e',
      '1e+',
      '1E-0',
      '-',
      '+1',
      '1.5e300',
      '1E+400',
      '12345678901234567890',
      'true',
      'tru',
      'truex',
      'nul',
      'null ',
      ' null',
      'NaN',
      'Infinity',
      '"a',
      '"\\x"',
      '"\\u12"',
      '"\\u12g4"',
      '"\\ud800"',
      '"\t"',
      '"\u2028"',
      '[1,]',
      '[,1]',
      '{"a":1,}',
      '{"a" 1}',
      '{a:1}',
      "{'a':1}",
      '{"a":1}}',
      '[1] [2]',
      '[]',
      '{}',
      '[[[]]]',
      '{"":{"":[]}}',
      '"\\/"',
      '"\\b\\f\\n\\r\\t\\"\\\\"',
      '[1 2]',
      '{"a":1 "b":2}',
      '\u00a01',
      '1\u00a0',
      '\ufeff1',
    ];
    for (const text of cases) expect(accepts(text), JSON.stringify(text)).toBe(jsonParses(text));
  });

  it('says where and why a text is refused', () => {
    expect(errorOf('{"a": ')).toMatchObject({ problem: 'syntax', reason: 'unexpected end of the text', line: 1, column: 7 });
    expect(errorOf('[1,\n 2,\n x]')).toMatchObject({ problem: 'syntax', line: 3, column: 2, reason: "unexpected character 'x'" });
    expect(errorOf('{"a":1} x').reason).toBe('unexpected text after the JSON value');
    expect(errorOf('   ').reason).toBe('the text is empty');
    expect(errorOf('"a\u0000"').reason).toBe('unescaped control character in a string');
  });
});

describe('depth', () => {
  it('counts nested arrays and objects and refuses one level more than the limit', () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(() => scanJson(nest(8), { maxDepth: 8 })).not.toThrow();
    expect(errorOf(nest(9), { maxDepth: 8 })).toMatchObject({ problem: 'depth', offset: 8 });
    expect(() => scanJson('{"a":{"b":[1]}}', { maxDepth: 3 })).not.toThrow();
    expect(errorOf('{"a":{"b":[{}]}}', { maxDepth: 3 }).problem).toBe('depth');
  });

  it('scans any depth without recursion', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(scanJson(deep)).toEqual([{ start: 0, end: deep.length, spaced: false }]);
  });
});

describe('spans', () => {
  it('captures the whole document without surrounding whitespace, and minifies it without touching strings', () => {
    fc.assert(
      fc.property(spacedJson, ({ value, text }) => {
        const padded = ` \n${text}\t `;
        const [span] = scanJson(padded);
        expect(spanText(padded, span!)).toBe(JSON.stringify(value));
      }),
    );
    const text = ' { "a b" : [ 1.10 , -0 , "x \\" y" ] } ';
    expect(spanText(text, scanJson(text)[0]!)).toBe('{"a b":[1.10,-0,"x \\" y"]}');
  });

  it('captures the values at a path, exactly as written, in order', () => {
    const text = '{"ops":[{"op":"put","value":12345678901234567890},{"op":"delete"},{"value" : {"2":1,"1":[1E+400]} },{"val\\u0075e":-0}],"value":3}';
    const spans = scanJson(text, { capture: ['ops', '*', 'value'] });
    expect(spans.map((s) => spanText(text, s))).toEqual(['12345678901234567890', '{"2":1,"1":[1E+400]}', '-0']);
    expect(JSON.parse(withPlaceholders(text, spans))).toEqual({ ops: [{ op: 'put', value: 0 }, { op: 'delete' }, { value: 1 }, { value: 2 }], value: 3 });
  });

  it('captures nothing where the path does not lead', () => {
    expect(scanJson('{"ops":{"0":{"value":1}}}', { capture: ['ops', '*', 'value'] })).toEqual([]);
    expect(scanJson('[{"value":1}]', { capture: ['value'] })).toEqual([]);
    expect(scanJson('{"x":{"value":1}}', { capture: ['value'] })).toEqual([]);
    expect(scanJson('{"value":{"value":1}}', { capture: ['value'] })).toHaveLength(1);
  });
});

describe('duplicate member names', () => {
  it('are refused inside captured values when asked, however they are spelled', () => {
    expect(errorOf('{"a":1,"a":2}', { uniqueKeys: true }).problem).toBe('duplicate-key');
    expect(errorOf('{"a":1,"\\u0061":2}', { uniqueKeys: true }).reason).toBe('the member name "a" appears twice in one object');
    expect(errorOf('[{"x":{"b":1,"c":{},"b":2}}]', { uniqueKeys: true }).problem).toBe('duplicate-key');
    expect(() => scanJson('{"a":{"a":1},"b":{"a":2}}', { uniqueKeys: true })).not.toThrow();
  });

  it('are left alone outside the captured values', () => {
    expect(() => scanJson('{"ops":[],"ops":[]}', { capture: ['ops', '*', 'value'], uniqueKeys: true })).not.toThrow();
    expect(errorOf('{"ops":[{"value":{"k":1,"k":1}}]}', { capture: ['ops', '*', 'value'], uniqueKeys: true }).problem).toBe('duplicate-key');
  });
});
