import type { ReadValues } from '../../src/options/index.js';

/** An in-memory store for walks: JSON values, or BYTES for a byte value. */
export const BYTES = Symbol('bytes');

export interface FakeStore {
  read: ReadValues;
  /** sizes of every read call, in order */
  calls: number[];
  /** how often each key was asked for */
  asked: Map<string, number>;
}

export function fakeStore(entries: Iterable<[string, unknown]>): FakeStore {
  const data = new Map(entries);
  const calls: number[] = [];
  const asked = new Map<string, number>();
  const read: ReadValues = async (keys) => {
    calls.push(keys.length);
    const out = new Map<string, unknown>();
    for (const key of keys) {
      asked.set(key, (asked.get(key) ?? 0) + 1);
      if (!data.has(key)) continue;
      const value = data.get(key);
      // A fresh copy, as a database would return, so no test relies on identity.
      out.set(key, value === BYTES ? undefined : structuredClone(value));
    }
    return out;
  };
  return { read, calls, asked };
}
