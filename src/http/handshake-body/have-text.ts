/**
 * A `have` map read straight from the body's text, without JSON.parse
 * building an object of a million properties and two passes over it (the
 * schema's check and the timestamps): the members are read off the text in
 * one pass, each key a slice of it.
 *
 * Only for a map that is all well: the text is valid JSON (checked before,
 * json-check.ts) and every member is a string ts that parses, at most
 * `maxKeys` of them. Anything else (a value that is no string or no
 * timestamp, too many keys) is undefined: the caller reads the body the
 * usual way, which gives the answer the API gives for it.
 */
import { parseTsMicros } from '@keysync/protocol';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const CLOSE_BRACE = 125;

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/**
 * The members of the object at `text[start]` (a `{`) whose keys start with
 * `prefix`, in text order, with their ts as micros (have-ts.ts); undefined
 * when the map is not all well. Keys may repeat (JSON.parse keeps the last).
 */
export function readHaveText(
  text: string,
  start: number,
  prefix: string | undefined,
  maxKeys: number,
  maxTsLength: number,
): { keys: string[]; micros: number[] } | undefined {
  const keys: string[] = [];
  const micros: number[] = [];
  // The next backslash of the text at or after the reading position (-1: none): strings before it need no unescaping.
  let backslash = text.indexOf('\\', start);
  const readString = (at: number): { value: string; end: number } => {
    const close = text.indexOf('"', at + 1);
    if (backslash !== -1 && backslash < at) backslash = text.indexOf('\\', at);
    if (backslash === -1 || backslash > close) return { value: text.slice(at + 1, close), end: close + 1 };
    let i = at + 1;
    for (let c = text.charCodeAt(i); c !== QUOTE; c = text.charCodeAt(i)) i += c === BACKSLASH ? 2 : 1;
    return { value: JSON.parse(text.slice(at, i + 1)) as string, end: i + 1 };
  };
  const skipSpace = (i: number) => {
    while (isSpace(text.charCodeAt(i))) i++;
    return i;
  };

  let i = skipSpace(start + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) return { keys, micros };
  for (let count = 1; ; count++) {
    const key = readString(i);
    i = skipSpace(skipSpace(key.end) + 1);
    if (text.charCodeAt(i) !== QUOTE || count > maxKeys) return undefined;
    const ts = readString(i);
    const us = ts.value.length <= maxTsLength ? parseTsMicros(ts.value) : undefined;
    if (us === undefined) return undefined;
    if (!prefix || key.value.startsWith(prefix)) {
      keys.push(key.value);
      micros.push(us);
    }
    i = skipSpace(ts.end);
    if (text.charCodeAt(i) !== COMMA) return { keys, micros };
    i = skipSpace(i + 1);
  }
}
