/** Response bodies read as text: ASCII by the quick path, anything else as UTF-8, the same as TextDecoder either way. */
import { describe, expect, it } from 'vitest';
import { utf8Text } from '../src/utf8-text.js';

const bytesOf = (...parts: Array<string | number[]>) => {
  const chunks = parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out.buffer;
};

describe('utf8Text', () => {
  it('reads any bytes as TextDecoder does', () => {
    const cases = [
      bytesOf(''),
      bytesOf('{"key":"plain","value":[1,2,3]}\n'),
      bytesOf('é'), // two bytes that read as two Latin-1 characters
      bytesOf('ascii then ', 'ü', ' then ascii'),
      bytesOf('🙂 and \u2028'),
      bytesOf('bad ', [0xc3], ' utf-8 ', [0xff, 0xfe]), // malformed: replacement characters
      bytesOf([0x7f, 0x80, 0x00]),
    ];
    for (const bytes of cases) expect(utf8Text(bytes)).toBe(new TextDecoder().decode(bytes));
  });
});
