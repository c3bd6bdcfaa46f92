/**
 * A simulated client's replica and sync sessions (the live feed is added by
 * SimClient in sim-client.ts): a reference Replica plus the client's protocol
 * state. Every server answer is checked against the store model at the
 * moment it is taken.
 *
 * `base` is the rev up to which the replica is known complete: a finished
 * session moves it to the session's headRev; a chain of feed connections
 * (reconnected with Last-Event-ID) that started at or below `base` moves it
 * to the last id the client processed.
 */
import { expect } from 'vitest';
import { call, json } from '../support/http.js';
import { Replica } from '../support/replica.js';
import type { TestServer } from '../support/server.js';
import { tsMicros, type Entry, type StoreModel } from './store-model.js';

export const PROBLEM = 'https://keysync.dev/problems/';

/** How often each path was taken, over all runs (printed at the end, to see what the runs cover). */
export const stats: Record<string, number> = {};
export const count = (what: string) => void (stats[what] = (stats[what] ?? 0) + 1);

export interface Ctx {
  server: TestServer;
  storeId: string;
  model: StoreModel;
  timeoutMs: number;
  window: number;
  log(line: string): void;
}

interface Session {
  id: string;
  stale: string[];
  headRev: number;
  batches: number;
  batchSize: number;
  delivered: number;
  acked: number;
  /** send and receive time of the last call that moved the session's activity */
  lastSend: number;
  lastRecv: number;
}

export class SyncClient {
  readonly replica = new Replica();
  base = 0;
  session: Session | undefined;
  /** the chain of feed connections covers (chainFrom, chainPos] */
  chainFrom: number | undefined;
  chainPos: number | undefined;

  constructor(
    readonly name: string,
    protected readonly ctx: Ctx,
  ) {}

  protected get path() {
    return `/v1/stores/${this.ctx.storeId}`;
  }

  /** Applies an entry the server sent; it must be exactly what the write of that rev stored. */
  protected applyServerEntry(entry: any, where: string): void {
    const written = this.ctx.model.history.get(entry?.rev);
    expect(entry, `${this.name}: ${where} entry for rev ${entry?.rev} matches the write of that rev`).toEqual(written);
    this.applyChecked(entry);
  }

  /**
   * A `have` handshake replaces what the client knew, so it drops its feed chain and reopens
   * the feed from the session's headRev later. Reading on from an older connection would be
   * unsound: its frames may carry a key the have map did not name, and the tombstone that
   * superseded it may be purged, so neither `removed` nor the feed would ever delete it.
   */
  protected beforeHave(): void {
    this.chainFrom = this.chainPos = undefined;
  }

  protected applyChecked(entry: Entry): void {
    const before = this.replica.data.get(entry.key)?.rev ?? 0;
    this.replica.apply(entry);
    const after = this.replica.data.get(entry.key)!.rev;
    expect(after, `${this.name}: rev of ${JSON.stringify(entry.key)} never goes backwards`).toBeGreaterThanOrEqual(before);
  }

  protected advance(): void {
    if (this.chainFrom !== undefined && this.chainPos !== undefined && this.chainFrom <= this.base) this.base = Math.max(this.base, this.chainPos);
  }

  // ---- sync sessions ----

  /** `inline`: a session of one batch must come inside the answer (docs/API.md, "Inline batch"). */
  async handshake(mode: 'have' | 'since', batchSize: number, inline = false): Promise<void> {
    if (this.session) this.ctx.log(`  ${this.name} abandons session ${this.session.id}`);
    this.session = undefined;
    if (mode === 'have') this.beforeHave();
    let req: { have: Record<string, string> } | { since: number } = mode === 'since' ? { since: this.base } : { have: this.replica.have() };
    let send = Date.now();
    const options = { batchSize, ...(inline && { inline: true }) };
    let res = await call(this.ctx.server, `${this.path}/sync`, json({ ...req, ...options }));
    let recv = Date.now();
    let expected = this.ctx.model.expectHandshake(req);
    if (typeof expected === 'string') {
      expect(res.status, `${this.name}: handshake ${JSON.stringify(req)} refused: ${JSON.stringify(res.body)}`).toBe(409);
      expect(res.body.type).toBe(PROBLEM + expected);
      count(`handshake 409 ${expected}`);
      this.ctx.log(`  ${this.name} since ${this.base}: 409 ${expected}, handshakes with have`);
      this.beforeHave();
      req = { have: this.replica.have() };
      send = Date.now();
      res = await call(this.ctx.server, `${this.path}/sync`, json({ ...req, ...options }));
      recv = Date.now();
      expected = this.ctx.model.expectHandshake(req);
    }
    if (typeof expected === 'string') throw new Error('a have handshake is never refused');
    expect(res.status, `${this.name}: handshake ${JSON.stringify(req)}: ${JSON.stringify(res.body)}`).toBe(201);
    const hs = res.body;
    expect({ stale: hs.stale, removed: [...hs.removed].sort() }, `${this.name}: handshake ${JSON.stringify(req)} diff`).toEqual(expected);
    expect(hs.headRev).toBe(this.ctx.model.head);
    expect(hs.batchSize).toBe(batchSize);
    expect(hs.batches).toBe(Math.ceil(hs.stale.length / batchSize));
    expect(hs.window).toBe(this.ctx.window);
    const expires = tsMicros(hs.expiresAt) / 1000;
    expect(expires >= send + this.ctx.timeoutMs && expires <= recv + this.ctx.timeoutMs, `expiresAt ${hs.expiresAt}`).toBe(true);
    for (const key of hs.removed) this.applyChecked({ key, rev: hs.headRev, ts: '', deleted: true });
    count(`handshake ${'since' in req ? 'since' : 'have'}`);
    this.ctx.log(`  ${this.name} session ${hs.sessionId}: head ${hs.headRev}, stale ${JSON.stringify(hs.stale)}, removed ${JSON.stringify(hs.removed)}`);
    this.session = {
      id: hs.sessionId,
      stale: hs.stale,
      headRev: hs.headRev,
      batches: hs.batches,
      batchSize,
      delivered: -1,
      acked: -1,
      lastSend: send,
      lastRecv: recv,
    };
    if (inline && hs.batches === 1) {
      // Batch 0 as a fetch would answer it now; the session is done on the server.
      const entries = hs.stale.flatMap((k: string) => this.ctx.model.wire(k) ?? []);
      expect(hs.batch, `${this.name}: inline batch of ${JSON.stringify(hs.stale)}`).toEqual({ cursor: 0, entries, next: null });
      for (const entry of hs.batch.entries) this.applyServerEntry(entry, 'inline batch');
      count('inline batch');
      this.complete();
      return;
    }
    expect(hs.batch, `${this.name}: a batch inline without inline: true, or of a session of ${hs.batches}`).toBeUndefined();
    if (hs.batches === 0) this.complete();
  }

  private complete(): void {
    const s = this.session!;
    this.base = Math.max(this.base, s.headRev);
    this.session = undefined;
    this.advance();
    count('session done');
    this.ctx.log(`  ${this.name} session done, base ${this.base}`);
  }

  /** Checks a session call's answer for expiry; true when the session expired (and is dropped). */
  private expired(res: { status: number; body: any }, send: number, recv: number, what: string): boolean {
    const s = this.session!;
    if (res.status === 410) {
      expect(res.body.type).toBe(`${PROBLEM}session-expired`);
      expect(recv - s.lastSend, `${this.name}: ${what} answered 410 although the session was active within ${this.ctx.timeoutMs} ms`).toBeGreaterThan(
        this.ctx.timeoutMs,
      );
      count('session expired (410)');
      this.ctx.log(`  ${this.name} ${what}: 410, session dropped`);
      this.session = undefined;
      return true;
    }
    expect(send - s.lastRecv, `${this.name}: ${what} answered ${res.status} after the session was idle too long`).toBeLessThanOrEqual(this.ctx.timeoutMs);
    return false;
  }

  async fetch(cursor: number): Promise<void> {
    const s = this.session!;
    const send = Date.now();
    const res = await call(this.ctx.server, `${this.path}/sync/${s.id}/batches/${cursor}`);
    const recv = Date.now();
    if (this.expired(res, send, recv, `batch ${cursor}`)) return;
    const what = `${this.name}: batch ${cursor} (acked ${s.acked}, delivered ${s.delivered}, batches ${s.batches}): ${JSON.stringify(res.body)}`;
    if (cursor >= s.batches) {
      count('batch 404');
      expect(res.status, what).toBe(404);
    } else if (cursor > s.acked + this.ctx.window) {
      count('batch 409 ack-required');
      expect(res.status, what).toBe(409);
      expect(res.body.type).toBe(`${PROBLEM}ack-required`);
    } else {
      expect(res.status, what).toBe(200);
      const keys = s.stale.slice(cursor * s.batchSize, (cursor + 1) * s.batchSize);
      // The current value of each key; a key whose tombstone was purged since is left out.
      const entries = keys.flatMap((k) => this.ctx.model.wire(k) ?? []);
      expect(res.body, what).toEqual({ cursor, entries, next: cursor + 1 < s.batches ? cursor + 1 : null });
      count('batch 200');
      if (entries.length < keys.length) count('batch key skipped (purged)');
      for (const entry of res.body.entries) this.applyServerEntry(entry, `batch ${cursor}`);
      s.delivered = Math.max(s.delivered, cursor);
      s.lastSend = send;
      s.lastRecv = recv;
    }
  }

  async ack(cursor: number): Promise<void> {
    const s = this.session!;
    const send = Date.now();
    const res = await call(this.ctx.server, `${this.path}/sync/${s.id}/ack`, json({ cursor }));
    const recv = Date.now();
    if (this.expired(res, send, recv, `ack ${cursor}`)) return;
    const what = `${this.name}: ack ${cursor} (acked ${s.acked}, delivered ${s.delivered}, batches ${s.batches}): ${JSON.stringify(res.body)}`;
    if (cursor >= s.batches) {
      expect(res.status, what).toBe(404);
    } else if (cursor > s.delivered) {
      expect(res.status, what).toBe(409);
      expect(res.body.type).toBe(`${PROBLEM}not-delivered`);
      count('ack 409 not-delivered');
    } else {
      expect(res.status, what).toBe(200);
      const acked = Math.max(s.acked, cursor);
      const done = acked >= s.batches - 1;
      const remaining = s.stale.length - Math.min(s.stale.length, (acked + 1) * s.batchSize);
      expect(res.body, what).toEqual({ acked, next: done ? null : acked + 1, remaining, done });
      count('ack 200');
      s.acked = acked;
      s.lastSend = send;
      s.lastRecv = recv;
      if (done) this.complete();
    }
  }

  async cancel(how: 'forget' | 'delete'): Promise<void> {
    const s = this.session!;
    this.session = undefined;
    if (how === 'forget') return;
    const res = await call(this.ctx.server, `${this.path}/sync/${s.id}`, { method: 'DELETE' });
    expect(res.status, `${this.name}: cancel session: ${JSON.stringify(res.body)}`).toBe(204);
  }

  /** Fetches and acknowledges every remaining batch (unless the session expires). */
  async finishSession(): Promise<void> {
    while (this.session) {
      const s = this.session;
      const cursor = s.acked + 1;
      if (cursor > s.delivered) await this.fetch(cursor);
      if (this.session) await this.ack(cursor);
    }
  }

  // ---- checks ----

  /** Live keys of the replica with rev, ts and value, in the form of `StoreModel.liveView()`. */
  liveView(): Record<string, Entry> {
    const out: Record<string, Entry> = {};
    for (const [key, held] of [...this.replica.data].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (held.deleted) continue;
      out[key] = { key, ...held } as Entry;
    }
    return out;
  }

  /** Whenever the replica is known complete up to the head it must equal the model. */
  checkConverged(): void {
    if (this.base >= this.ctx.model.head) {
      count('online convergence check');
      expect(this.liveView(), `${this.name} (complete up to ${this.base}) equals the model`).toEqual(this.ctx.model.liveView());
    }
  }
}
