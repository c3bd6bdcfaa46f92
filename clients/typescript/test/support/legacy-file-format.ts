/**
 * The writer of FileStore's format 1 (snapshot.json plus log-<gen>.jsonl),
 * as the store before LMDB wrote it. Kept here only to build old directories
 * for the migration tests; src/stores/file-format.ts is the matching reader.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalRecord } from '../../src/local-store.js';
import { toStored } from '../../src/records.js';

export interface LegacyLine {
  records: LocalRecord[];
  checkpoint?: number | undefined;
}

export function encodeSnapshot(s: { gen: number; checkpoint: number | undefined; records: LocalRecord[] }): string {
  return JSON.stringify({ format: 1, gen: s.gen, checkpoint: s.checkpoint ?? null, records: s.records.map(toStored) });
}

export function encodeLogLine(line: LegacyLine): string {
  const out: Record<string, unknown> = { records: line.records.map(toStored) };
  if (line.checkpoint !== undefined) out['checkpoint'] = line.checkpoint;
  return `${JSON.stringify(out)}\n`;
}

/**
 * A format-1 directory: an optional snapshot of generation `gen`, then the
 * log of that generation with `lines`, then `tail` (raw bytes, e.g. a torn line).
 */
export async function writeLegacyDir(
  dir: string,
  opts: { snapshot?: { checkpoint: number | undefined; records: LocalRecord[] }; gen?: number; lines?: LegacyLine[]; tail?: string | Uint8Array },
): Promise<void> {
  const gen = opts.gen ?? (opts.snapshot ? 1 : 0);
  await mkdir(dir, { recursive: true });
  if (opts.snapshot) await writeFile(join(dir, 'snapshot.json'), encodeSnapshot({ gen, ...opts.snapshot }));
  const log = (opts.lines ?? []).map(encodeLogLine).join('');
  await writeFile(join(dir, `log-${gen}.jsonl`), log);
  if (opts.tail !== undefined) await writeFile(join(dir, `log-${gen}.jsonl`), opts.tail, { flag: 'a' });
}
