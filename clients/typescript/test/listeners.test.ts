import { describe, expect, it } from 'vitest';
import type { CallbackError } from '../src/errors.js';
import { Listeners } from '../src/listeners.js';
import type { LocalRecord } from '../src/local-store.js';
import type { Change } from '../src/records.js';

const put = (key: string, rev: number): LocalRecord => ({ kind: 'json', key, rev, ts: '2026-01-01T00:00:00.000000Z', value: { rev } });

/** A record whose value must not be read: what emit does without listeners. */
function untouchable(key: string): LocalRecord {
  return {
    kind: 'json',
    key,
    rev: 1,
    ts: '2026-01-01T00:00:00.000000Z',
    get value(): unknown {
      throw new Error(`the value of ${key} was read`);
    },
  };
}

describe('Listeners', () => {
  it('builds no change for a record nobody listens to', () => {
    const errors: CallbackError[] = [];
    const quiet = new Listeners(undefined, (e) => errors.push(e));
    expect(() => quiet.emit([untouchable('a'), untouchable('b')])).not.toThrow();

    const seen: Change[] = [];
    const perKey = new Listeners(undefined, (e) => errors.push(e));
    perKey.on('b', (c) => seen.push(c));
    expect(() => perKey.emit([untouchable('a'), put('b', 2), untouchable('c')])).not.toThrow();
    expect(seen.map((c) => [c.key, c.rev, c.value])).toEqual([['b', 2, { rev: 2 }]]);
    expect(errors).toEqual([]);
  });

  it('gives every record to onChange and each key to its own listeners, in order', () => {
    const all: string[] = [];
    const ofB: number[] = [];
    const listeners = new Listeners(
      (c) => all.push(`${c.key}@${c.rev}`),
      (e) => {
        throw e;
      },
    );
    const off = listeners.on('b', (c) => ofB.push(c.rev));
    listeners.emit([put('a', 1), put('b', 2), put('b', 3)]);
    off();
    listeners.emit([put('b', 4)]);
    expect(all).toEqual(['a@1', 'b@2', 'b@3', 'b@4']);
    expect(ofB).toEqual([2, 3]);
  });

  it('lets onChange subscribe a key in time for the change it is handling', () => {
    const ofA: number[] = [];
    const listeners = new Listeners(
      (c) => {
        if (ofA.length === 0 && c.key === 'a') listeners.on('a', (x) => ofA.push(x.rev));
      },
      (e) => {
        throw e;
      },
    );
    listeners.emit([put('a', 1), put('a', 2)]);
    expect(ofA).toEqual([1, 2]);
  });
});
