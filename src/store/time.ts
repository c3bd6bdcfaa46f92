/** Server timestamps are integer microseconds since the epoch; on the wire they are ISO-8601 UTC with six decimals. */

// Consecutive timestamps mostly share their second: its ISO prefix is built once
// (a handshake formats every ts of the store; Date#toISOString dominated that).
let cachedSecond = NaN;
let cachedPrefix = '';

export function formatTs(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Years outside 0000-9999 have a longer ISO form: no cache there.
    if (iso.length !== 24) return `${new Date(ms).toISOString().slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
    cachedPrefix = iso.slice(0, 20); // 2026-11-26T07:31:34.
    cachedSecond = second;
  }
  return `${cachedPrefix}${String(ms - second * 1000).padStart(3, '0')}${String(rest).padStart(3, '0')}Z`;
}

export function nowMicros(): number {
  return Date.now() * 1000;
}
