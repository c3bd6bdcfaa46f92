/**
 * JSON text without JavaScript numbers in the way: a validating scanner that
 * finds the raw text of values inside a JSON document, so a value can be kept,
 * forwarded or handed to a custom parser exactly as it was written
 * (`12345678901234567890` stays that, `1.10` stays `1.10`, `{"2":0,"1":0}`
 * keeps its member order).
 *
 * One pass, no recursion (a 5,000-deep text cannot overflow the stack), work
 * linear in the text. It checks RFC 8259 syntax strictly (no comments, no
 * trailing commas, no leading zeros, control characters only escaped) and
 * nesting depth. The server and the client share it: the server to take the
 * values of a request body as written, the client to hand each value of a
 * batch or live event to its `parseValue` option.
 *
 * Pure: no Node or DOM APIs.
 */

/** Why a text was refused: not JSON, nested too deep, or an object naming a member twice. */
export type JsonTextProblem = 'syntax' | 'depth' | 'duplicate-key';

export class JsonTextError extends Error {
  constructor(
    readonly problem: JsonTextProblem,
    /** what is wrong, without the position */
    readonly reason: string,
    /** UTF-16 offset in the text */
    readonly offset: number,
    /** 1-based line and column of `offset` */
    readonly line: number,
    readonly column: number,
  ) {
    super(`${reason} at line ${line}, column ${column}`);
    this.name = 'JsonTextError';
  }
}

/** Where a captured value is in the text: `text.slice(start, end)`, whitespace around it excluded. */
export interface JsonSpan {
  start: number;
  end: number;
  /** the span holds whitespace between tokens (see `spanText`) */
  spaced: boolean;
}

export interface ScanOptions {
  /** most arrays and objects open at once; deeper is a `depth` error. Default: unlimited. */
  maxDepth?: number;
  /**
   * Capture the values at this path: object member names and `*` for any
   * array element. `[]` (the default) captures the whole document;
   * `['ops', '*', 'value']` the `value` of every element of `ops`.
   */
  capture?: readonly string[];
  /** refuse an object inside a captured value that names a member twice */
  uniqueKeys?: boolean;
}

// Character codes.
const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const SLASH = 47;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const UPPER_E = 69;
const OPEN_BRACKET = 91;
const BACKSLASH = 92;
const CLOSE_BRACKET = 93;
const LOWER_E = 101;
const LOWER_F = 102;
const LOWER_N = 110;
const LOWER_T = 116;
const LOWER_U = 117;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

const ARRAY = 0;
const OBJECT = 1;

/**
 * Checks `text` and returns the span of every value at `capture`, in text
 * order. Throws JsonTextError.
 * @example
 * const text = '{"ops":[{"value":1.10}]}';
 * const [s] = scanJson(text, { capture: ['ops', '*', 'value'] });
 * text.slice(s.start, s.end) // '1.10'
 */
export function scanJson(text: string, opts: ScanOptions = {}): JsonSpan[] {
  return new Scanner(text, opts).run();
}

/** The text of a span with the whitespace between its tokens removed (none of its characters change). */
export function spanText(text: string, span: JsonSpan): string {
  return span.spaced ? minify(text, span.start, span.end) : text.slice(span.start, span.end);
}

/**
 * `text` with each span replaced by its index (`0`, `1`, ...): a small
 * document that JSON.parse can read for its shape while the values stay as
 * text. Spans must be in text order and must not overlap (as scanJson returns them).
 */
export function withPlaceholders(text: string, spans: readonly JsonSpan[]): string {
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (let i = 0; i < spans.length; i++) {
    out += text.slice(at, spans[i]!.start) + i;
    at = spans[i]!.end;
  }
  return out + text.slice(at);
}

/** Valid JSON text between start and end without its insignificant whitespace. */
function minify(text: string, start: number, end: number): string {
  let out = '';
  let from = start;
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i + 1);
    } else if (c === SPACE || c === LF || c === CR || c === TAB) {
      out += text.slice(from, i);
      while (i < end && isSpace(text.charCodeAt(i))) i++;
      from = i;
    } else {
      i++;
    }
  }
  return out + text.slice(from, end);
}

/** The index after the closing quote of a (valid) string whose content starts at `i`. */
function stringEnd(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    i += c === BACKSLASH ? 2 : 1;
  }
}

/** A run of string characters that need no check: not a quote, backslash or control character. */
const PLAIN = /[^"\\\u0000-\u001f]*/y;

const isSpace = (c: number) => c === SPACE || c === LF || c === CR || c === TAB;
const isDigit = (c: number) => c >= ZERO && c <= NINE;
const isHex = (c: number) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

class Scanner {
  private pos = 0;
  /** whitespace characters skipped so far: a span whose count moved holds some */
  private spaces = 0;
  private readonly maxDepth: number;
  private readonly capture: readonly string[];
  private readonly uniqueKeys: boolean;
  /** per open container, bottom first: ARRAY or OBJECT */
  private readonly kinds: number[] = [];
  /** per open object inside a capture with uniqueKeys: the member names seen */
  private readonly names: Array<Set<string> | undefined> = [];
  /** depth of the deepest open container whose path is a start of `capture` (0: none) */
  private matched = 0;
  /** the path of the value about to be read is a start of `capture` (or all of it) */
  private onPath = true;
  /** depth of the open captured container, or -1 */
  private captureDepth = -1;
  private captureStart = 0;
  private captureSpaces = 0;
  private readonly spans: JsonSpan[] = [];

  constructor(
    private readonly text: string,
    opts: ScanOptions,
  ) {
    this.maxDepth = opts.maxDepth ?? Infinity;
    this.capture = opts.capture ?? [];
    this.uniqueKeys = opts.uniqueKeys ?? false;
  }

  run(): JsonSpan[] {
    const { text, kinds } = this;
    this.skipSpace();
    if (this.pos >= text.length) this.fail('syntax', 'the text is empty');
    // Each turn reads one value; a container's members are read by later turns.
    value: for (;;) {
      this.skipSpace();
      const depth = kinds.length;
      const capturing = this.onPath && depth === this.capture.length;
      if (capturing) {
        this.captureStart = this.pos;
        this.captureSpaces = this.spaces;
      }
      const c = text.charCodeAt(this.pos);
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        const kind = c === OPEN_BRACE ? OBJECT : ARRAY;
        if (depth >= this.maxDepth) this.fail('depth', `more than ${this.maxDepth} nested arrays and objects`);
        kinds.push(kind);
        if (capturing) this.captureDepth = depth + 1;
        else if (this.onPath) this.matched = depth + 1;
        this.names.push(kind === OBJECT && this.uniqueKeys && this.captureDepth > 0 ? new Set() : undefined);
        this.pos++;
        this.skipSpace();
        if (text.charCodeAt(this.pos) !== (kind === OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) {
          if (kind === OBJECT) this.readName();
          else this.onPath = this.memberMatches('*');
          continue;
        }
        this.pos++;
        this.closeContainer();
      } else {
        this.readScalar(c);
        if (capturing) this.endCapture();
      }
      // After a value: a comma and the next member, or the end of its container(s).
      for (;;) {
        this.skipSpace();
        if (kinds.length === 0) {
          if (this.pos < text.length) this.fail('syntax', 'unexpected text after the JSON value');
          return this.spans;
        }
        const kind = kinds[kinds.length - 1]!;
        const next = text.charCodeAt(this.pos);
        if (next === COMMA) {
          this.pos++;
          this.skipSpace();
          if (kind === OBJECT) this.readName();
          else this.onPath = this.memberMatches('*');
          continue value;
        }
        if (next === (kind === OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) {
          this.pos++;
          this.closeContainer();
          continue;
        }
        if (this.pos >= text.length) this.fail('syntax', 'unexpected end of the text');
        this.fail('syntax', kind === OBJECT ? "expected ',' or '}' after an object member" : "expected ',' or ']' after an array element");
      }
    }
  }

  /** Pops the container just closed (pos is after its bracket). */
  private closeContainer(): void {
    const depth = this.kinds.length;
    if (this.captureDepth === depth) {
      this.captureDepth = -1;
      this.endCapture();
    }
    if (this.matched === depth) this.matched = depth - 1;
    this.kinds.pop();
    this.names.pop();
  }

  /** The captured value ends at pos (whitespace after it not yet skipped). */
  private endCapture(): void {
    this.spans.push({ start: this.captureStart, end: this.pos, spaced: this.spaces !== this.captureSpaces });
  }

  /**
   * Whether the member about to be read (named `segment`, `*` for array
   * elements) lies on the capture path: its container does, and its name or
   * index is the path's next step.
   */
  private memberMatches(segment: string): boolean {
    const depth = this.kinds.length;
    if (this.matched !== depth || depth > this.capture.length) return false;
    const want = this.capture[depth - 1]!;
    return segment === '*' ? want === '*' : want !== '*' && want === segment;
  }

  /** An object member's name and colon; leaves pos at the member's value. */
  private readName(): void {
    const { text } = this;
    if (text.charCodeAt(this.pos) !== QUOTE) {
      this.fail('syntax', this.pos >= text.length ? 'unexpected end of the text' : 'expected a member name in double quotes');
    }
    const start = this.pos;
    const escaped = this.readString();
    const depth = this.kinds.length;
    const names = this.names[depth - 1];
    const mayMatch = this.matched === depth && depth <= this.capture.length;
    if (names || mayMatch) {
      const raw = text.slice(start + 1, this.pos - 1);
      const name = escaped ? (JSON.parse(text.slice(start, this.pos)) as string) : raw;
      if (names) {
        if (names.has(name)) this.fail('duplicate-key', `the member name ${JSON.stringify(name)} appears twice in one object`, start);
        names.add(name);
      }
      this.onPath = mayMatch && this.memberMatches(name);
    } else {
      this.onPath = false;
    }
    this.skipSpace();
    if (text.charCodeAt(this.pos) !== COLON) this.fail('syntax', this.pos >= text.length ? 'unexpected end of the text' : "expected ':' after a member name");
    this.pos++;
  }

  private readScalar(c: number): void {
    const { text } = this;
    if (c === QUOTE) {
      this.readString();
    } else if (c === MINUS || isDigit(c)) {
      this.readNumber();
    } else if (c === LOWER_T) {
      this.readWord('true');
    } else if (c === LOWER_F) {
      this.readWord('false');
    } else if (c === LOWER_N) {
      this.readWord('null');
    } else if (this.pos >= text.length) {
      this.fail('syntax', 'unexpected end of the text');
    } else {
      this.fail('syntax', `unexpected character ${describe(text, this.pos)}`);
    }
  }

  /** A string from its opening quote; pos ends after the closing one. True when it holds an escape. */
  private readString(): boolean {
    const { text } = this;
    const length = text.length;
    let i = this.pos + 1;
    let escaped = false;
    for (;;) {
      // Skip the plain characters at once (the regex engine's native loop beats charCodeAt in JavaScript).
      PLAIN.lastIndex = i;
      PLAIN.test(text);
      i = PLAIN.lastIndex;
      if (i >= length) this.fail('syntax', 'unterminated string', i);
      const c = text.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        const e = text.charCodeAt(i + 1);
        if (e === LOWER_U) {
          for (let k = 2; k < 6; k++) if (!isHex(text.charCodeAt(i + k))) this.fail('syntax', 'invalid \\u escape in a string', i);
          i += 6;
        } else if (e === QUOTE || e === BACKSLASH || e === SLASH || e === 98 || e === LOWER_F || e === LOWER_N || e === 114 || e === LOWER_T) {
          i += 2;
        } else {
          this.fail('syntax', 'invalid escape in a string', i);
        }
      } else if (c < SPACE) {
        this.fail('syntax', 'unescaped control character in a string', i);
      } else {
        i++;
      }
    }
    this.pos = i + 1;
    return escaped;
  }

  private readNumber(): void {
    const { text } = this;
    let i = this.pos;
    if (text.charCodeAt(i) === MINUS) i++;
    const first = text.charCodeAt(i);
    if (first === ZERO) {
      i++;
      if (isDigit(text.charCodeAt(i))) this.fail('syntax', 'a number has a leading zero', i);
    } else if (isDigit(first)) {
      while (isDigit(text.charCodeAt(i))) i++;
    } else {
      this.fail('syntax', 'invalid number', i);
    }
    if (text.charCodeAt(i) === DOT) {
      i++;
      if (!isDigit(text.charCodeAt(i))) this.fail('syntax', 'invalid number: no digit after the decimal point', i);
      while (isDigit(text.charCodeAt(i))) i++;
    }
    const e = text.charCodeAt(i);
    if (e === LOWER_E || e === UPPER_E) {
      i++;
      const sign = text.charCodeAt(i);
      if (sign === PLUS || sign === MINUS) i++;
      if (!isDigit(text.charCodeAt(i))) this.fail('syntax', 'invalid number: no digit in the exponent', i);
      while (isDigit(text.charCodeAt(i))) i++;
    }
    this.pos = i;
  }

  private readWord(word: string): void {
    if (!this.text.startsWith(word, this.pos)) {
      const rest = this.text.slice(this.pos);
      this.fail('syntax', word.startsWith(rest) ? 'unexpected end of the text' : `unexpected character ${describe(this.text, this.pos)}`);
    }
    this.pos += word.length;
  }

  private skipSpace(): void {
    const { text } = this;
    let i = this.pos;
    while (isSpace(text.charCodeAt(i))) i++;
    this.spaces += i - this.pos;
    this.pos = i;
  }

  private fail(problem: JsonTextProblem, reason: string, at = this.pos): never {
    let line = 1;
    let lineStart = 0;
    for (let i = this.text.indexOf('\n'); i !== -1 && i < at; i = this.text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    throw new JsonTextError(problem, reason, at, line, at - lineStart + 1);
  }
}

/** A character for an error message: printable ones quoted, others as U+XXXX. */
function describe(text: string, at: number): string {
  const cp = text.codePointAt(at)!;
  if (cp > 0x20 && cp < 0x7f) return `'${String.fromCodePoint(cp)}'`;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}
