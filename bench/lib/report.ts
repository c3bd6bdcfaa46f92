/** Result rows: printed as they come, then written as JSON and a Markdown table. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Target {
  /** what the issue asks, e.g. "p99 < 25 ms" */
  goal: string;
  ok: boolean;
}

export interface Row {
  backend: string;
  workload: string;
  case: string;
  /** the headline numbers, formatted */
  result: string;
  /** the floor or baseline and the ratio to it */
  versus?: string;
  target?: Target;
  metrics: Record<string, number | string | boolean | null>;
}

export interface Report {
  mode: 'quick' | 'full';
  startedAt: string;
  seconds: number;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; databases: Record<string, string> };
  /** calibrate.ts's timing (ms) at the start and at the end of the run */
  calibrationMs?: { start: number; end: number };
  rows: Row[];
}

export function machine(databases: Record<string, string>): Report['machine'] {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    databases,
  };
}

export function printRow(row: Row): void {
  const target = row.target ? `  [${row.target.ok ? 'ok' : 'MISS'}: ${row.target.goal}]` : '';
  const busy = typeof row.metrics.machineBusyCores === 'number' ? ` (busy ${row.metrics.machineBusyCores.toFixed(1)})` : '';
  console.log(
    `${row.backend.padEnd(8)} ${row.workload.padEnd(18)} ${row.case.padEnd(28)} ${row.result}${row.versus ? ` | ${row.versus}` : ''}${target}${busy}`,
  );
}

const cell = (s: string | undefined) => (s ?? '').replaceAll('|', '\\|');

export function markdown(report: Report): string {
  const m = report.machine;
  const lines = [
    `# keysync benchmark results (${report.mode})`,
    '',
    `${report.startedAt}, ${Math.round(report.seconds)} s. Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}; ` +
      Object.entries(m.databases)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ') +
      '.',
    '',
    'Reproduce with `npm run bench -- --quick` (or `--full`), `--backend pglite|postgres|both`. The server runs as a separate process (request log off); ' +
      '"busy cores" is how much of the machine was in use during the row, the bench\'s own server and clients included (2.0 = both cores).',
    '',
  ];
  if (report.calibrationMs) {
    const { start, end } = report.calibrationMs;
    lines.push(
      `Calibration (bench/lib/calibrate.ts, a fixed JavaScript workload): ${start.toFixed(1)} ms at the start, ${end.toFixed(1)} ms at the end. ` +
        'Compare absolute times only with runs whose calibration agrees; ratios within a run compare across runs.',
      '',
    );
  }
  for (const backend of [...new Set(report.rows.map((r) => r.backend))]) {
    lines.push(`## ${backend}`, '', '| workload | case | result | vs floor / baseline | target | busy cores |', '|---|---|---|---|---|---|');
    for (const r of report.rows.filter((x) => x.backend === backend)) {
      const target = r.target ? `${r.target.ok ? '✅' : '❌'} ${r.target.goal}` : '';
      const busy = typeof r.metrics.machineBusyCores === 'number' ? r.metrics.machineBusyCores.toFixed(1) : '';
      lines.push(`| ${cell(r.workload)} | ${cell(r.case)} | ${cell(r.result)} | ${cell(r.versus)} | ${cell(target)} | ${busy} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * Writes latest.* (the last run) and, for a whole run of a mode, quick.* or
 * full.* (the last whole run of each mode): a run of some workloads or sizes
 * (`--only`, `--sync`, `--subscribers`) must not replace the committed results.
 */
export function writeReport(report: Report, whole: boolean): string {
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  for (const name of whole ? ['latest', report.mode] : ['latest']) {
    writeFileSync(`${dir}${name}.json`, JSON.stringify(report, null, 2) + '\n');
    writeFileSync(`${dir}${name}.md`, markdown(report));
  }
  return dir;
}
