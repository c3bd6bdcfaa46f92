/**
 * HaveMembers (stores/plan.ts) writes a `have` map's JSON text in pieces of
 * members joined as it goes: the text must be the same map, in the order
 * added, across the pieces' boundaries and for keys JSON escapes.
 */
import { describe, expect, it } from 'vitest';
import { HaveMembers } from '../src/stores/plan.js';

describe('HaveMembers', () => {
  it('writes every member once, in order, across the pieces it joins', () => {
    // Keys JSON escapes, at the boundary of the first piece (4,096 members).
    const special = ['a"q', 'a\\b', 'a\tb', '__proto__', '12', '😀', '\uE000'];
    const entries = Array.from({ length: 10_001 }, (_, i): [string, string] => [
      (i >= 4093 && i < 4100 ? special[i - 4093] : undefined) ?? `k/${i}`,
      `2026-12-03T00:00:00.${String(i).padStart(6, '0')}Z`,
    ]);
    const members = new HaveMembers();
    for (const [key, ts] of entries) members.add(key, ts);
    const text = members.json();
    const parsed = JSON.parse(text) as Record<string, string>;
    expect(Object.keys(parsed)).toHaveLength(entries.length);
    // Object.entries lists integer-like keys first; compare as sets, and check the text's order directly.
    expect(new Map(Object.entries(parsed))).toEqual(new Map(entries));
    expect(text.indexOf('"k/4092"')).toBeLessThan(text.indexOf('"a\\"q"'));
    expect(text.indexOf('"\uE000"')).toBeLessThan(text.indexOf('"k/4100"'));
    expect(text.indexOf('"k/8191"')).toBeLessThan(text.indexOf('"k/8193"'));
  });

  it('writes an empty map as {}', () => {
    expect(new HaveMembers().json()).toBe('{}');
  });
});
