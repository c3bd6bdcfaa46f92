/**
 * A fresh database per backend run: a new PostgreSQL database (dropped
 * afterwards) or a new PGlite data folder (removed afterwards).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { Backend } from './server.js';

export interface BenchBackend extends Backend {
  /** PostgreSQL server version, or PGlite's */
  version: string;
  dispose(): Promise<void>;
}

export async function createBackend(kind: 'pglite' | 'postgres', adminUrl: string): Promise<BenchBackend> {
  if (kind === 'pglite') {
    const dataDir = mkdtempSync(join(tmpdir(), 'keysync-bench-'));
    // The version is read from the in-process floor PGlite (same package).
    return { kind, dataDir, version: 'PGlite', dispose: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `keysync_bench_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name}`);
  await admin.unsafe(`create database ${name}`);
  const version = (await admin<{ v: string }[]>`select current_setting('server_version') as v`)[0]!.v;
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    databaseUrl: url.toString(),
    version: `PostgreSQL ${version}`,
    dispose: async () => {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end();
    },
  };
}
