/** Server timestamps are integer microseconds since the epoch; on the wire they are ISO-8601 UTC with six decimals. */

export function formatTs(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  return `${new Date(ms).toISOString().slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}

export function nowMicros(): number {
  return Date.now() * 1000;
}
