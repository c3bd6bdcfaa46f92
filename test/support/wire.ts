/**
 * One entry as the wire carries it, flattened for tests (every variant's
 * fields optional, so assertions can read them without narrowing). The
 * precise union is WireEntry in clients/typescript/src/types.ts.
 */
export interface Entry {
  key: string;
  rev: number;
  ts: string;
  kind?: 'json' | 'bytes' | 'tombstone';
  deleted?: true;
  value?: unknown;
  base64?: string;
  contentType?: string;
}
