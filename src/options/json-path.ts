/**
 * The JSON paths a walk follows (`walk.refs`), checked against a strict
 * grammar, parsed once into segments and evaluated by ref-eval.ts with a
 * bounded cost. Paths are rejected with a position when they leave the
 * subset below; member names are literals, so a name such as `*`, `$` or
 * `a.b` can never turn into an operator.
 *
 * Supported (a subset of RFC 9535):
 *   $                     the value itself
 *   .name  ['name']  ["name"]
 *   .*     [*]
 *   [3]    [-1]           array index (negative counts from the end)
 *   [1:5]  [:2]  [::2]     array slice (step > 0)
 *   ..name ..*  ..[...]    descendants, then any of the selectors above
 * Dot names use letters, digits, `_`, `$`, `@` and `-`; quoted names may hold
 * any character except quotes, brackets, `,` `;` `^` `` ` `` `\` and
 * control characters (no escape sequences).
 */
import type { PathSegment, Selector } from './path-segment.js';
import { evaluateRefs, type ValueBudget, type ValueRefs } from './ref-eval.js';

export type { PathSegment, Selector };

export type ParseResult = { ok: true; segments: PathSegment[] } | { ok: false; message: string /** 0-based character offset of the problem */; index: number };

const DOT_NAME_CHAR = /[\p{L}\p{N}\p{M}_$@-]/u;
// Quotes and backslash (no escape sequences are parsed), and characters and
// sequences that common JSONPath dialects treat as operators even inside
// quotes, so a path means the same here as in other tools.
const QUOTED_FORBIDDEN = /['"[\],;^`\\\p{Cc}]/u;
const QUOTED_FORBIDDEN_SEQUENCE = /%@%|@(?:null|boolean|number|string|integer|undefined|nonFinite|scalar|array|object|function|other)\(\)/u;

class PathSyntaxError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

/**
 * Parses a ref path into segments, or says where and why it is not valid.
 *
 * @example parseRefPath('$.children[*]') // {ok: true, segments: [...]}
 * @example parseRefPath('$[?(@.x)]')     // {ok: false, message: 'filter expressions ...', index: 1}
 */
export function parseRefPath(path: string): ParseResult {
  try {
    return { ok: true, segments: new Parser(path).parse() };
  } catch (err) {
    if (err instanceof PathSyntaxError) return { ok: false, message: err.message, index: err.index };
    throw err;
  }
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): PathSegment[] {
    if (this.s[0] !== '$') throw new PathSyntaxError("a path must start with '$'", 0);
    this.i = 1;
    const segments: PathSegment[] = [];
    while (this.i < this.s.length) segments.push(this.segment());
    return segments;
  }

  private segment(): PathSegment {
    const c = this.s[this.i];
    if (c === '[') return { descendant: false, selector: this.bracket() };
    if (c !== '.') throw new PathSyntaxError(`unexpected '${c}', expected '.' or '['`, this.i);
    if (this.s[this.i + 1] === '.') {
      this.i += 2;
      if (this.s[this.i] === '[') return { descendant: true, selector: this.bracket() };
      return { descendant: true, selector: this.dotSelector() };
    }
    this.i += 1;
    return { descendant: false, selector: this.dotSelector() };
  }

  private dotSelector(): Selector {
    if (this.s[this.i] === '*') {
      this.i += 1;
      return { type: 'wildcard' };
    }
    const start = this.i;
    for (const ch of this.s.slice(start)) {
      if (!DOT_NAME_CHAR.test(ch)) break;
      this.i += ch.length;
    }
    if (this.i === start) {
      const found = this.s[this.i];
      throw new PathSyntaxError(found === undefined ? 'a name or * must follow the dot' : `'${found}' cannot appear in a dot name; use ['...']`, this.i);
    }
    return { type: 'name', name: this.s.slice(start, this.i) };
  }

  private bracket(): Selector {
    const open = this.i;
    this.i += 1; // '['
    const c = this.s[this.i];
    let selector: Selector;
    if (c === "'" || c === '"') selector = this.quoted(c);
    else if (c === '*') {
      this.i += 1;
      selector = { type: 'wildcard' };
    } else if (c === '?' || c === '(') {
      throw new PathSyntaxError('filter and script expressions are not supported', this.i);
    } else selector = this.indexOrSlice();
    if (this.s[this.i] !== ']') throw new PathSyntaxError(`expected ']' to close the '[' at ${open}`, this.i);
    this.i += 1;
    return selector;
  }

  private quoted(quote: string): Selector {
    const start = this.i + 1;
    const end = this.s.indexOf(quote, start);
    if (end < 0) throw new PathSyntaxError(`unterminated ${quote}-quoted name`, this.i);
    const name = this.s.slice(start, end);
    const bad = QUOTED_FORBIDDEN.exec(name);
    if (bad) throw new PathSyntaxError(`${JSON.stringify(bad[0])} is not supported in a quoted name`, start + bad.index);
    const seq = QUOTED_FORBIDDEN_SEQUENCE.exec(name);
    if (seq) throw new PathSyntaxError(`${JSON.stringify(seq[0])} is not supported in a quoted name`, start + seq.index);
    this.i = end + 1;
    return { type: 'name', name };
  }

  private indexOrSlice(): Selector {
    const start = this.i;
    const parts: (number | undefined)[] = [this.integer()];
    while (this.s[this.i] === ':' && parts.length < 3) {
      this.i += 1;
      parts.push(this.integer());
    }
    if (parts.length === 1) {
      const index = parts[0];
      if (index === undefined) throw new PathSyntaxError("expected a quoted name, '*', an index or a slice", start);
      return { type: 'index', index };
    }
    const [from, to, step] = parts;
    if (step !== undefined && step <= 0) throw new PathSyntaxError('a slice step must be greater than 0', start);
    const slice: Selector = { type: 'slice' };
    if (from !== undefined) slice.start = from;
    if (to !== undefined) slice.end = to;
    if (step !== undefined) slice.step = step;
    return slice;
  }

  /** An optional integer: -?(0|[1-9][0-9]*), at most a safe integer. */
  private integer(): number | undefined {
    const m = /^-?(?:0|[1-9][0-9]*)/.exec(this.s.slice(this.i));
    if (!m) return undefined;
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n) || m[0] === '-0') throw new PathSyntaxError(`${m[0]} is not a usable index`, this.i);
    this.i += m[0].length;
    return n;
  }
}

/**
 * Extracts the strings a set of ref paths select from one JSON value, within
 * a budget (see ref-eval.ts); `pause` is awaited now and then on long values.
 */
export type RefExtractor = (value: unknown, budget?: ValueBudget, pause?: () => Promise<void> | undefined) => Promise<ValueRefs>;

const UNBOUNDED: ValueBudget = { maxSteps: Number.POSITIVE_INFINITY, maxDepth: Number.POSITIVE_INFINITY };

/**
 * Compiles ref paths once; the returned function evaluates all of them over a
 * value and returns every selected string (each at most once per path). Only
 * string values count: a path selecting an array or object yields nothing for
 * it, and the characters of a string are not its children.
 * Throws a TypeError naming the path when one is invalid.
 *
 * @example await compileRefs(['$.children[*]'])({children: ['a', 'b', 3]}) // {ok: true, refs: ['a', 'b'], steps: 4}
 */
export function compileRefs(paths: readonly string[]): RefExtractor {
  const compiled = paths.map((path) => {
    const parsed = parseRefPath(path);
    if (!parsed.ok) throw new TypeError(`invalid JSON path ${JSON.stringify(path)}: ${parsed.message} (at ${parsed.index})`);
    return parsed.segments;
  });
  return (value, budget = UNBOUNDED, pause) => evaluateRefs(compiled, value, budget, pause);
}
