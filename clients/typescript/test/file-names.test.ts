import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fileBase, fileNames, keyOf } from '../src/cli/file-names.js';
import { ProgressBar } from '../src/cli/progress.js';

const key = fc.string({ unit: 'binary', minLength: 1, maxLength: 400 }).filter((k) => new TextEncoder().encode(k).length <= 1024);

describe('keysync-mirror file names', () => {
  it('are safe: one path segment of [A-Za-z0-9_%~-], never hidden, at most 255 bytes with the .json suffix', () => {
    fc.assert(
      fc.property(key, (k) => {
        const { json, bytes } = fileNames(k);
        expect(bytes).toMatch(/^[A-Za-z0-9_%~-]+$/);
        expect(json).toBe(`${bytes}.json`);
        expect(json.length).toBeLessThanOrEqual(255);
      }),
    );
  });

  it('are one-to-one: distinct keys, distinct names; short names decode back to their key', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        if (a !== b) expect(fileBase(a)).not.toBe(fileBase(b));
        const base = fileBase(a);
        if (!base.includes('~')) {
          expect(keyOf(base)).toBe(a);
          expect(keyOf(`${base}.json`)).toBe(a);
        }
      }),
    );
  });

  it('encode dots and slashes, so no key looks like another file or a directory', () => {
    expect(fileNames('users/1.v2')).toEqual({ json: 'users%2F1%2Ev2.json', bytes: 'users%2F1%2Ev2' });
    expect(fileBase('..')).toBe('%2E%2E');
    expect(fileBase('.keysync')).toBe('%2Ekeysync');
    expect(fileBase('ü')).toBe('%C3%BC');
    const long = fileBase('é'.repeat(500));
    expect(long).toMatch(/^(%C3%A9)+~[0-9a-f]{32}$/);
    expect(keyOf(long)).toBeUndefined();
  });
});

describe('the progress bar', () => {
  it('redraws one line in place and erases itself', () => {
    let out = '';
    const bar = new ProgressBar({ write: (t: string) => (out += t), columns: 60 }, 'syncing');
    bar.update(0, 4, true);
    bar.update(1, 4); // throttled: within 100 ms of the last draw
    bar.update(2, 4, true);
    bar.clear();
    expect(out.split('\r')).toEqual([
      '',
      `syncing ${'░'.repeat(23)} 0/4 batches   0%`,
      `syncing ${'█'.repeat(12)}${'░'.repeat(11)} 2/4 batches  50%`,
      '\x1b[2K',
    ]);
  });
});
