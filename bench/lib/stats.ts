/** Small numeric helpers for the result rows. */

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(values: Float64Array | number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN, n: sorted.length };
}

export const median = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 50);

/** Rounds to `digits` significant digits for the tables. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const scale = 10 ** (digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return Math.round(x * scale) / scale;
}

export const now = () => performance.now();

/** Wall-clock milliseconds shared by processes of one machine (sub-ms resolution). */
export const clock = () => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const MB = 1024 * 1024;
