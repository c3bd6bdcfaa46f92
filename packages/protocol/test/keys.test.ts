import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES, isKeyName, isKeyText, keyProblem, utf8Length } from '../src/keys.js';

describe('keyProblem', () => {
  it('accepts keys up to MAX_KEY_BYTES bytes of UTF-8, counted in bytes, not characters', () => {
    expect(keyProblem('a'.repeat(MAX_KEY_BYTES))).toBeUndefined();
    expect(keyProblem('a'.repeat(MAX_KEY_BYTES + 1))).toBe(`key must be at most ${MAX_KEY_BYTES} bytes of UTF-8`);
    // 341 three-byte characters are 1023 bytes; one more ASCII fits, a two-byte one does not.
    expect(keyProblem(`${'€'.repeat(341)}a`)).toBeUndefined();
    expect(keyProblem(`${'€'.repeat(341)}é`)).toMatch(/at most/);
    // A surrogate pair is one four-byte character.
    expect(keyProblem('😀'.repeat(MAX_KEY_BYTES / 4))).toBeUndefined();
    expect(keyProblem(`${'😀'.repeat(MAX_KEY_BYTES / 4)}a`)).toMatch(/at most/);
  });

  it('refuses the empty key, U+0000 and lone surrogates', () => {
    expect(keyProblem('')).toBe('key must not be empty');
    expect(keyProblem('a\u0000b')).toMatch(/U\+0000/);
    expect(keyProblem('a\ud800')).toMatch(/lone surrogate/);
    expect(keyProblem('\udc00a')).toMatch(/lone surrogate/);
    expect(isKeyName('users/1')).toBe(true);
  });

  it('lets key text (a prefix) be empty, under the same rule otherwise', () => {
    expect(isKeyText('')).toBe(true);
    expect(isKeyText('a\u0000')).toBe(false);
    expect(isKeyText('a'.repeat(MAX_KEY_BYTES + 1))).toBe(false);
  });
});

describe('utf8Length', () => {
  it('counts what a UTF-8 encoder writes', () => {
    const samples = ['', 'a', 'é', '€', '😀', 'a\ud800b', '\udc00', '\ud83d', 'x😀y€zé\u007f\u0080\u07ff\u0800\uffff'];
    for (const s of samples) expect(utf8Length(s), JSON.stringify(s)).toBe(new TextEncoder().encode(s).length);
  });
});
