/** What every workload gets: the backend, its floor database, the mode and the row sink. */
import type { BenchBackend } from './backend.js';
import type { FloorDb } from './floor-db.js';
import { busyCores, sample } from './machine-load.js';
import type { Row } from './report.js';
import { startServer, type BenchServer, type ServerOptions } from './server.js';

export interface BenchContext {
  mode: 'quick' | 'full';
  backend: BenchBackend;
  floor: FloorDb;
  /** records a row (backend and the machine's busy cores since the last row filled in) */
  emit(row: Omit<Row, 'backend'>): void;
  /** starts the busy-cores interval of the next row (after set-up such as loading keys) */
  mark(): void;
  /** starts a fresh server process on the backend (a CPU profile when --profile is given, unless `profile: false`) */
  server(opts?: ServerOptions & { profile?: boolean }): Promise<BenchServer>;
}

export function contextFor(
  mode: BenchContext['mode'],
  backend: BenchBackend,
  floor: FloorDb,
  sink: (row: Row) => void,
  profileDir: string | undefined,
): BenchContext {
  let since = sample();
  return {
    mode,
    backend,
    floor,
    emit: (row) => {
      const now = sample();
      sink({ backend: backend.kind, ...row, metrics: { ...row.metrics, machineBusyCores: busyCores(since, now) } });
      since = now;
    },
    mark: () => void (since = sample()),
    server: ({ profile = true, ...opts } = {}) => startServer(backend, { cpuProfDir: profile ? profileDir : undefined, ...opts }),
  };
}

export const fmt = {
  n: (x: number) => (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3)),
  s: (x: number) => (x >= 10 ? `${x.toFixed(1)} s` : x >= 1 ? `${x.toFixed(2)} s` : `${(x * 1000).toFixed(x >= 0.1 ? 0 : 1)} ms`),
  ms: (x: number) => `${x >= 10 ? x.toFixed(0) : x.toFixed(1)} ms`,
  mb: (x: number) => `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} MB`,
  x: (x: number) => `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}x`,
  pct: (x: number) => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)}%`,
};
