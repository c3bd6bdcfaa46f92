/**
 * parseTsMicros reads the server's own spelling by a path of its own (no
 * regular expression): it must agree with the general RFC 3339 path and
 * with Date on every instant, and refuse what the general path refuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTsMicros } from '../src/ts-micros.js';

/** The canonical spelling of an instant in microseconds, built with Date (years 0000-9999). */
function canonical(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 23)}${String(micros - ms * 1000).padStart(3, '0')}Z`;
}

const FIRST = Date.UTC(1900, 0, 1) * 1000;
const LAST = Date.UTC(2200, 11, 31, 23, 59, 59, 999) * 1000 + 999;

describe('parseTsMicros', () => {
  it('reads the canonical spelling as Date does, and as the same instant written with an offset', () => {
    fc.assert(
      fc.property(fc.integer({ min: FIRST, max: LAST }), fc.integer({ min: 0, max: 12 * 60 }), (micros, offsetMinutes) => {
        const ts = canonical(micros);
        expect(parseTsMicros(ts)).toBe(micros);
        // The same instant as local time at +hh:mm: the general path.
        const local = canonical(micros + offsetMinutes * 60_000_000).slice(0, 26);
        const offset = `+${String(Math.floor(offsetMinutes / 60)).padStart(2, '0')}:${String(offsetMinutes % 60).padStart(2, '0')}`;
        expect(parseTsMicros(`${local}${offset}`)).toBe(micros);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads days one after another and back again, across a leap day', () => {
    const days = [Date.UTC(2024, 1, 28), Date.UTC(2024, 1, 29), Date.UTC(2024, 2, 1), Date.UTC(2024, 1, 29), Date.UTC(1999, 11, 31)];
    for (const day of [...days, ...days]) {
      const micros = day * 1000 + 86_399_999_999;
      expect(parseTsMicros(canonical(micros))).toBe(micros);
    }
  });

  it('refuses an impossible date or time, and a character that is not a digit, in every field', () => {
    const good = '2024-02-29T23:59:59.999999Z';
    expect(parseTsMicros(good)).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999) * 1000 + 999);
    for (const bad of [
      '2023-02-29T00:00:00.000000Z',
      '2100-02-29T00:00:00.000000Z',
      '2024-00-10T00:00:00.000000Z',
      '2024-13-10T00:00:00.000000Z',
      '2024-04-31T00:00:00.000000Z',
      '2024-01-00T00:00:00.000000Z',
      '2024-01-32T00:00:00.000000Z',
      '2024-01-01T24:00:00.000000Z',
      '2024-01-01T00:60:00.000000Z',
      '2024-01-01T00:00:60.000000Z',
    ]) {
      expect(parseTsMicros(bad), bad).toBeUndefined();
      // The general path agrees.
      expect(parseTsMicros(bad.replace('Z', '+00:00')), bad).toBeUndefined();
    }
    // Each digit position in turn holds a character just outside 0-9, or a letter.
    for (let i = 0; i < good.length; i++) {
      if (!/\d/.test(good[i]!)) continue;
      for (const c of ['/', ':', 'a', ' ']) {
        const bad = good.slice(0, i) + c + good.slice(i + 1);
        expect(parseTsMicros(bad), bad).toBeUndefined();
      }
    }
    // After a refused date, a good ts of another day is read in full.
    expect(parseTsMicros('2024-03-01T00:00:00.000001Z')).toBe(Date.UTC(2024, 2, 1) * 1000 + 1);
  });
});
