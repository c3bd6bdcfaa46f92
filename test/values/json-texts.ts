/**
 * Arbitrary JSON texts that JavaScript numbers and objects would change:
 * integers past 2^53, decimals with trailing zeros and more digits than a
 * double holds, exponents out of a double's range, -0, integer-like member
 * names in any order, strings with every kind of escape, nesting up to a
 * limit. Each text comes with whitespace between its tokens (`spaced`, what
 * a client sends) and without (`min`, what every reader must get back).
 */
import fc from 'fast-check';

type Node = { t: 'raw'; text: string } | { t: 'arr'; items: Node[] } | { t: 'obj'; members: Array<[string, Node]> };

export interface JsonText {
  spaced: string;
  min: string;
  depth: number;
}

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const intPart = fc.oneof(
  fc.constant('0'),
  fc.tuple(fc.constantFrom(...'123456789'), digits(0, 40)).map(([a, b]) => a + b),
);
const exponent = fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.constantFrom('0', '1', '2', '308', '309', '400', '4000', '00', '07'));

export const numberToken: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '12345678901234567890',
    '-98765432109876543210',
    '9007199254740993',
    '1.10',
    '-0',
    '-0.0',
    '0.0',
    '1E+2',
    '1e-400',
    '1E+400',
    '-1E+400',
    '0.1000000000000000055511151231257827',
    '2.50E-10',
    '1e0',
    '123456789012345678901234567890.000000000000000000001',
  ),
  fc
    .tuple(fc.constantFrom('', '-'), intPart, fc.option(digits(1, 30)), fc.option(exponent))
    .map(([sign, int, frac, exp]) => sign + int + (frac === null ? '' : `.${frac}`) + (exp === null ? '' : exp.join(''))),
);

/** A JSON string token for `s`, each character written raw or escaped as chosen by `seed`. */
function stringToken(s: string, seed: number): string {
  let r = seed >>> 0 || 1;
  const next = () => (r = (Math.imul(r, 1103515245) + 12345) >>> 0) >>> 16;
  const hex = (u: number) => {
    const h = u.toString(16).padStart(4, '0');
    return next() % 2 ? h : h.toUpperCase();
  };
  const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '/': '\\/' };
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const mustEscape = cp < 0x20 || ch === '"' || ch === '\\';
    if (!mustEscape && next() % 3 !== 0) out += ch;
    else if (SHORT[ch] && next() % 2) out += SHORT[ch];
    else for (let i = 0; i < ch.length; i++) out += `\\u${hex(ch.charCodeAt(i))}`;
  }
  return out + '"';
}

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('"', '\\', '/', '\n', '\u0000', '\u001f', '\u2028', 'é', '𝄞', '\uffff', '\u{10ffff}', 'a'), maxLength: 8 }),
);
export const stringToken$ = fc.tuple(text, fc.integer()).map(([s, seed]) => stringToken(s, seed));
const loneSurrogate = fc.constantFrom('"\\ud800"', '"\\uDFFF x"', '"a\\udbff"');

const scalar: fc.Arbitrary<Node> = fc
  .oneof(numberToken, stringToken$, loneSurrogate, fc.constantFrom('true', 'false', 'null'))
  .map((t) => ({ t: 'raw' as const, text: t }));

/** Member names, integer-like ones often (JavaScript objects put those first, in numeric order). */
const memberName = fc.oneof(fc.nat(30).map(String), fc.constantFrom('10', '2', '1', '0', '-1', '01', '4294967295', '4294967296'), text);

const tree = fc.letrec<{ value: Node; arr: Node; obj: Node }>((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthSize: 'small' }, scalar, tie('arr'), tie('obj')),
  arr: fc.array(tie('value'), { maxLength: 4 }).map((items) => ({ t: 'arr' as const, items })),
  obj: fc
    .uniqueArray(fc.tuple(memberName, fc.integer(), tie('value')), { selector: ([name]) => name, maxLength: 5 })
    .map((members) => ({ t: 'obj' as const, members: members.map(([name, seed, v]): [string, Node] => [stringToken(name, seed), v]) })),
})).value;

/** Wraps `node` in `levels` arrays and objects. */
function nest(node: Node, levels: number, seed: number): Node {
  for (let i = 0; i < levels; i++) node = (seed >> (i % 16)) & 1 ? { t: 'arr', items: [node] } : { t: 'obj', members: [[`"${i}"`, node]] };
  return node;
}

function depthOf(node: Node): number {
  if (node.t === 'raw') return 0;
  const children = node.t === 'arr' ? node.items : node.members.map(([, v]) => v);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function render(node: Node, sp: () => string): string {
  if (node.t === 'raw') return node.text;
  if (node.t === 'arr') return `[${sp()}${node.items.map((v) => render(v, sp) + sp()).join(`,${sp()}`)}]`;
  return `{${sp()}${node.members.map(([k, v]) => `${k}${sp()}:${sp()}${render(v, sp)}${sp()}`).join(`,${sp()}`)}}`;
}

/** JSON texts nesting at most `maxDepth` arrays and objects. */
export function jsonText(maxDepth: number): fc.Arbitrary<JsonText> {
  const nested = fc.tuple(tree, fc.nat(maxDepth), fc.integer()).map(([node, levels, seed]) => {
    const wrapped = nest(node, Math.max(0, Math.min(levels, maxDepth - depthOf(node))), seed);
    return depthOf(wrapped) <= maxDepth ? wrapped : node;
  });
  return fc
    .tuple(fc.oneof({ weight: 4, arbitrary: tree }, { weight: 1, arbitrary: nested }), fc.integer())
    .filter(([node]) => depthOf(node) <= maxDepth)
    .map(([node, seed]) => {
      let r = seed >>> 0 || 7;
      const spaces = [' ', '\n', '\t', '\r\n', '  ', ''];
      const sp = () => spaces[(r = (Math.imul(r, 69069) + 1) >>> 0) % 7] ?? '';
      return { spaced: sp() + render(node, sp) + sp(), min: render(node, () => ''), depth: depthOf(node) };
    });
}
