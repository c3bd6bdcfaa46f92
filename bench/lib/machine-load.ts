/**
 * How busy the machine is (all processes, from /proc/stat). The bench shares
 * its two cores with whatever else runs, so each workload waits for a quiet
 * moment first and every row records how busy the machine was.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { sleep } from './stats.js';

interface Sample {
  busy: number;
  total: number;
}

export function sample(): Sample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3]! + v[4]!; // idle + iowait
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Busy cores between two samples. */
export const busyCores = (a: Sample, b: Sample) => (b.total === a.total ? 0 : ((b.busy - a.busy) / (b.total - a.total)) * cpus().length);

/** Waits (up to `maxS`) for a second in which less than `threshold` cores are busy; returns the last second's busy cores. */
export async function waitQuiet(maxS: number, threshold = 0.3): Promise<number> {
  const until = Date.now() + maxS * 1000;
  for (;;) {
    const a = sample();
    await sleep(1000);
    const busy = busyCores(a, sample());
    if (busy < threshold || Date.now() >= until) return busy;
  }
}
