/**
 * The model of one store, kept from the write responses: every rev ever
 * written (history) and the compacted current entry of each key (what the
 * server's change log must hold), plus the purge horizon. The expected
 * answers of handshakes, batches and feeds are computed from it.
 */
import { expect } from 'vitest';
import type { Entry } from '../support/wire.js';

export type { Entry } from '../support/wire.js';

export type Written = { key: string; value: unknown } | { key: string; base64: string; contentType: string } | { key: string; deleted: true };

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/** ts text → integer microseconds */
export const tsMicros = (ts: string) => Date.parse(`${ts.slice(0, 23)}Z`) * 1000 + Number(ts.slice(23, 26));

export class StoreModel {
  head = 0;
  lastTs = '';
  purgedRev = 0;
  readonly history = new Map<number, Entry>();
  readonly current = new Map<string, Entry>();

  /** Records one write from its response; revs must be consecutive and ts strictly increasing. */
  record(written: Written, result: { key: string; rev: number; ts: string; deleted?: boolean }): void {
    expect(result.key, 'write result names the written key').toBe(written.key);
    expect(result.rev, `rev of a write after rev ${this.head}`).toBe(this.head + 1);
    expect(result.ts, 'ts format').toMatch(TS);
    expect(result.ts > this.lastTs, `ts ${result.ts} after ${this.lastTs}`).toBe(true);
    expect(result.deleted === true, 'deleted flag of the write result').toBe('deleted' in written);
    const entry: Entry = { key: written.key, rev: result.rev, ts: result.ts };
    if ('deleted' in written) Object.assign(entry, { kind: 'tombstone', deleted: true });
    else if ('base64' in written) Object.assign(entry, { kind: 'bytes', base64: written.base64, contentType: written.contentType });
    else Object.assign(entry, { kind: 'json', value: JSON.parse(JSON.stringify(written.value)) });
    this.head = result.rev;
    this.lastTs = result.ts;
    this.history.set(entry.rev, entry);
    this.current.set(entry.key, entry);
  }

  isLive(key: string): boolean {
    const e = this.current.get(key);
    return !!e && !e.deleted;
  }

  /** Current entries (tombstones included) with rev > `after`, in rev order. */
  changedAfter(after: number): Entry[] {
    return [...this.current.values()].filter((e) => e.rev > after).sort((a, b) => a.rev - b.rev);
  }

  /** The highest rev the change log still holds (revs above it are purged tombstones). */
  lastRowRev(): number {
    let max = 0;
    for (const e of this.current.values()) max = Math.max(max, e.rev);
    return max;
  }

  tombstones(): Entry[] {
    return [...this.current.values()].filter((e) => e.deleted);
  }

  /** Every tombstone goes (retention 0, and the caller waited past the last ts). */
  purgeAll(): void {
    for (const t of this.tombstones()) {
      this.current.delete(t.key);
      this.purgedRev = Math.max(this.purgedRev, t.rev);
    }
  }

  /** Live entries by key (rev, ts and value), for comparison with replicas. */
  liveView(): Record<string, Entry> {
    const out: Record<string, Entry> = {};
    for (const e of [...this.current.values()].sort((a, b) => (a.key < b.key ? -1 : 1))) if (!e.deleted) out[e.key] = e;
    return out;
  }

  /** Live keys and values in the form of `Replica.snapshot()` and `serverSnapshot()`. */
  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, e] of Object.entries(this.liveView())) out[key] = e.base64 !== undefined ? { base64: e.base64, contentType: e.contentType } : e.value;
    return out;
  }

  /** The expected handshake answer (stale in delivery order, removed sorted), or the 409 kind. */
  expectHandshake(req: { have: Record<string, string> } | { since: number }): { stale: string[]; removed: string[] } | 'since-purged' | 'since-ahead' {
    if ('since' in req) {
      if (req.since < this.purgedRev) return 'since-purged';
      if (req.since > this.head) return 'since-ahead';
      const changed = this.changedAfter(req.since);
      return {
        stale: changed.filter((e) => !e.deleted).map((e) => e.key),
        removed: changed
          .filter((e) => e.deleted)
          .map((e) => e.key)
          .sort(),
      };
    }
    const stale = this.changedAfter(0)
      .filter((e) => !e.deleted && req.have[e.key] !== e.ts)
      .map((e) => e.key);
    const removed = Object.keys(req.have)
      .filter((k) => !this.isLive(k))
      .sort();
    return { stale, removed };
  }

  /** The wire form of the current entry of `key`, or undefined when the server no longer has it (purged). */
  wire(key: string): Entry | undefined {
    return this.current.get(key);
  }
}
