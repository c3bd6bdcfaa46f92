/**
 * A reference replica written straight against the HTTP contract (not the
 * TypeScript client), so server tests do not depend on client code. It
 * applies an entry only when its rev is newer than what it holds and keeps
 * the server's ts verbatim, as the contract asks of every client.
 */
import { expect } from 'vitest';
import { call, json } from './http.js';
import type { TestServer } from './server.js';

export interface Held {
  rev: number;
  ts: string;
  deleted?: boolean;
  value?: unknown;
  base64?: string;
  contentType?: string;
}

export class Replica {
  readonly data = new Map<string, Held>();
  /** highest rev fully applied */
  checkpoint = 0;
  /** keys received in batches across all syncs */
  received = 0;

  apply(entry: { key: string; rev: number; ts: string; deleted?: boolean; value?: unknown; base64?: string; contentType?: string }): boolean {
    const held = this.data.get(entry.key);
    if (held && held.rev >= entry.rev) return false;
    const { key, ...rest } = entry;
    this.data.set(key, rest);
    return true;
  }

  have(): Record<string, string> {
    const have: Record<string, string> = {};
    for (const [key, held] of this.data) if (!held.deleted) have[key] = held.ts;
    return have;
  }

  /** Live keys and values, for comparison with the server. */
  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, held] of [...this.data].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (held.deleted) continue;
      out[key] = held.base64 !== undefined ? { base64: held.base64, contentType: held.contentType } : held.value;
    }
    return out;
  }

  /** Handshake (since when it has a checkpoint, else have), fetch and ack every batch. */
  async sync(
    server: TestServer,
    storeId: string,
    opts: { mode?: 'have' | 'since'; prefix?: string; batchSize?: number } = {},
  ): Promise<{ stale: string[]; removed: string[]; headRev: number; batches: number; sessionId: string }> {
    const mode = opts.mode ?? (this.checkpoint > 0 ? 'since' : 'have');
    const body: Record<string, unknown> = mode === 'since' ? { since: this.checkpoint } : { have: this.have() };
    if (opts.prefix !== undefined) body['prefix'] = opts.prefix;
    if (opts.batchSize !== undefined) body['batchSize'] = opts.batchSize;
    const hs = await call(server, `/v1/stores/${storeId}/sync`, json(body));
    if (hs.status === 409) return this.sync(server, storeId, { ...opts, mode: 'have' });
    expect(hs.status, JSON.stringify(hs.body)).toBe(201);
    // Removed keys become rev-0 tombstones: with options a key can come back at its old rev.
    for (const key of hs.body.removed as string[]) {
      const held = this.data.get(key);
      if (held && held.rev < hs.body.headRev) this.data.set(key, { rev: 0, ts: '', deleted: true });
    }
    for (let cursor = 0; cursor < hs.body.batches; cursor++) {
      const batch = await call(server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/${cursor}`);
      expect(batch.status, JSON.stringify(batch.body)).toBe(200);
      for (const entry of batch.body.entries) this.apply(entry);
      this.received += batch.body.entries.length;
      const ack = await call(server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/ack`, json({ cursor }));
      expect(ack.status).toBe(200);
    }
    this.checkpoint = Math.max(this.checkpoint, hs.body.headRev);
    return hs.body as { stale: string[]; removed: string[]; headRev: number; batches: number; sessionId: string };
  }
}

/** The server's live keys and values, read through the key listing and GETs. */
export async function serverSnapshot(server: TestServer, storeId: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '1000', ...(after !== undefined ? { after } : {}) });
    const page = await call(server, `/v1/stores/${storeId}/keys?${q}`);
    expect(page.status).toBe(200);
    for (const item of page.body.items) {
      if (item.deleted) continue;
      const res = await server.fetch(`/v1/stores/${storeId}/keys/${encodeURIComponent(item.key)}`);
      const type = res.headers.get('content-type') ?? '';
      if (type.startsWith('application/json')) out[item.key] = await res.json();
      else out[item.key] = { base64: Buffer.from(await res.arrayBuffer()).toString('base64'), contentType: type };
    }
    if (!page.body.next) break;
    after = page.body.next;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
