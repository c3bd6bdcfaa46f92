/**
 * Timestamps read as instants. A client may hand back the server's `ts` in
 * any RFC 3339 spelling (`Z` or `±hh:mm`, 0 to 9 fractional digits) and it
 * still names the same write: the server compares a handshake's `have` map
 * by instant, and a replica folds its digests (bucket-digests.ts) by
 * instant too.
 *
 * Plain arithmetic on character codes, no Date objects and no regular
 * expression for the server's own spelling: a handshake reads one per key
 * the client holds.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** `n` decimal digits of `s` from `at`, or -1 when one is not a digit. */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Seconds since the epoch of the date and time at the start of `ts` (UTC), or undefined when impossible. */
function secondsOf(ts: string): number | undefined {
  const y = digits(ts, 0, 4);
  const mo = digits(ts, 5, 2);
  const d = digits(ts, 8, 2);
  const h = digits(ts, 11, 2);
  const mi = digits(ts, 14, 2);
  const s = digits(ts, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return undefined;
  if (d > (mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1]!)) return undefined;
  return daysFromCivil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
}

/** True for the server's own spelling, 2026-11-26T07:31:34.123456Z (digits are checked by the parse). */
function isCanonical(ts: string): boolean {
  return (
    ts.length === 27 &&
    ts.charCodeAt(4) === 45 && // -
    ts.charCodeAt(7) === 45 &&
    ts.charCodeAt(10) === 84 && // T
    ts.charCodeAt(13) === 58 && // :
    ts.charCodeAt(16) === 58 &&
    ts.charCodeAt(19) === 46 && // .
    ts.charCodeAt(26) === 90 // Z
  );
}

/**
 * Microseconds since the epoch of an RFC 3339 timestamp, or undefined when
 * it is not one. A time finer than a microsecond (digits 7 to 9 not all
 * zero) is no server ts: it gets a half microsecond, so it equals none.
 *
 * @example parseTsMicros('2026-11-26T08:31:34.5+01:00') === parseTsMicros('2026-11-26T07:31:34.500000Z')
 */
export function parseTsMicros(ts: string): number | undefined {
  if (isCanonical(ts)) {
    const seconds = secondsOf(ts);
    const micros = digits(ts, 20, 6);
    return seconds === undefined || micros < 0 ? undefined : seconds * 1_000_000 + micros;
  }
  const m = RFC3339.exec(ts);
  if (!m) return undefined;
  const seconds = secondsOf(ts);
  if (seconds === undefined) return undefined;
  let offset = 0;
  if (m[8]) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[8] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const fraction = (m[7] ?? '').padEnd(9, '0');
  const micros = (seconds - offset) * 1_000_000 + Number(fraction.slice(0, 6));
  return fraction.endsWith('000') ? micros : micros + 0.5;
}
