/**
 * A fixed piece of JavaScript work, timed at the start and at the end of a
 * run, so that runs of different days can be compared. This machine's speed
 * moves with its neighbours, and /proc/stat does not show it (steal time
 * stayed near 1%): one day a quick run's JavaScript-heavy rows took twice as
 * long as the day before while its PostgreSQL floors moved by 10-20%. Rows that
 * are ratios within one run (against a floor, or against the run's own
 * initial sync) are comparable across runs; absolute times are only
 * comparable between runs whose calibration agrees.
 *
 * The work is what a sync is made of: parsing JSON text and keeping records
 * in a Map by key.
 */
const ENTRIES = 20_000;

const TEXT = `[${Array.from({ length: ENTRIES }, (_, i) => JSON.stringify({ key: `doc/${String(i).padStart(8, '0')}`, rev: i + 1, value: { i, body: 'lorem ipsum '.repeat(8) } })).join(',')}]`;

function work(): number {
  const records = JSON.parse(TEXT) as Array<{ key: string; rev: number }>;
  const byKey = new Map<string, { key: string; rev: number }>();
  for (const r of records) byKey.set(r.key, r);
  let revs = 0;
  for (const r of records) revs += byKey.get(r.key)!.rev;
  return revs;
}

/** The median of 7 timings of the work, in milliseconds (after one untimed run). */
export function calibrate(): number {
  work();
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    work();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[3]!;
}
