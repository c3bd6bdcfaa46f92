/**
 * Process accounting from /proc (Linux): CPU seconds (utime + stime), current
 * RSS and peak RSS (VmHWM). Writing `5` to /proc/<pid>/clear_refs resets the
 * peak, so one long-lived process can report a peak per workload.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

export interface ProcStats {
  cpuS: number;
  rssMB: number;
  peakMB: number;
}

export function procStats(pid: number | 'self'): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuS, rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 };
}

/** Resets VmHWM to the current RSS; false where the kernel does not allow it. */
export function resetPeak(pid: number | 'self'): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds and peak RSS of `pid` over `fn`. */
export async function measured<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; cpuS: number; peakMB: number; rssBeforeMB: number }> {
  resetPeak(pid);
  const before = procStats(pid);
  const value = await fn();
  const after = procStats(pid);
  return { value, cpuS: after.cpuS - before.cpuS, peakMB: after.peakMB, rssBeforeMB: before.rssMB };
}

/** Bytes this process has caused to be written to storage so far (`write_bytes` of /proc/<pid>/io). */
export function writtenBytes(pid: number | 'self'): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^write_bytes:\s+(\d+)/m.exec(io)?.[1] ?? NaN);
}

/** Current RSS split into the process's own memory (anonymous) and mapped files (shared, reclaimable page cache). */
export function rssParts(pid: number | 'self'): { anonMB: number; fileMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { anonMB: kb('RssAnon') / 1024, fileMB: kb('RssFile') / 1024 };
}
