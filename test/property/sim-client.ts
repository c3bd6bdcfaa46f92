/**
 * One simulated client: a reference Replica plus the client's protocol state
 * (checkpoint, sync session, live feed chain). Every server answer is checked
 * against the store model at the moment it is taken.
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
import { FrameReader, type Frame } from './frames.js';
import { tsMicros, type Entry, type StoreModel } from './store-model.js';

const PROBLEM = 'https://keysync.dev/problems/';

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

interface Conn {
  reader: FrameReader;
  from: number;
  purgedAtOpen: number;
  processed: number;
  lastId: number;
  ready: boolean;
  reset: boolean;
}

export class SimClient {
  readonly replica = new Replica();
  base = 0;
  session: Session | undefined;
  feed: Conn | undefined;
  /** the chain of feed connections covers (chainFrom, chainPos] */
  chainFrom: number | undefined;
  chainPos: number | undefined;

  constructor(
    readonly name: string,
    private readonly ctx: Ctx,
  ) {}

  private get path() {
    return `/v1/stores/${this.ctx.storeId}`;
  }

  /**
   * Applies an entry the server sent; it must be exactly what the write of that rev stored.
   * An entry at or below the checkpoint is already applied or superseded: a replica that is
   * complete up to `base` holds every key at its latest rev up to there. Applying it anyway
   * could revive a key whose tombstone was purged since (a frame read late from a feed
   * connection that was opened before a `have` resync).
   */
  private applyServerEntry(entry: any, where: string): void {
    const written = this.ctx.model.history.get(entry?.rev);
    expect(entry, `${this.name}: ${where} entry for rev ${entry?.rev} matches the write of that rev`).toEqual(written);
    if (entry.rev <= this.base) {
      count('entry at or below the checkpoint ignored');
      return;
    }
    this.applyChecked(entry);
  }

  private applyChecked(entry: Entry): void {
    const before = this.replica.data.get(entry.key)?.rev ?? 0;
    this.replica.apply(entry);
    const after = this.replica.data.get(entry.key)!.rev;
    expect(after, `${this.name}: rev of ${JSON.stringify(entry.key)} never goes backwards`).toBeGreaterThanOrEqual(before);
  }

  private advance(): void {
    if (this.chainFrom !== undefined && this.chainPos !== undefined && this.chainFrom <= this.base) this.base = Math.max(this.base, this.chainPos);
  }

  // ---- sync sessions ----

  async handshake(mode: 'have' | 'since', batchSize: number): Promise<void> {
    if (this.session) this.ctx.log(`  ${this.name} abandons session ${this.session.id}`);
    this.session = undefined;
    let req: { have: Record<string, string> } | { since: number } = mode === 'since' ? { since: this.base } : { have: this.replica.have() };
    let send = Date.now();
    let res = await call(this.ctx.server, `${this.path}/sync`, json({ ...req, batchSize }));
    let recv = Date.now();
    let expected = this.ctx.model.expectHandshake(req);
    if (typeof expected === 'string') {
      expect(res.status, `${this.name}: handshake ${JSON.stringify(req)} refused: ${JSON.stringify(res.body)}`).toBe(409);
      expect(res.body.type).toBe(PROBLEM + expected);
      count(`handshake 409 ${expected}`);
      this.ctx.log(`  ${this.name} since ${this.base}: 409 ${expected}, handshakes with have`);
      req = { have: this.replica.have() };
      send = Date.now();
      res = await call(this.ctx.server, `${this.path}/sync`, json({ ...req, batchSize }));
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
    this.session = { id: hs.sessionId, stale: hs.stale, headRev: hs.headRev, batches: hs.batches, batchSize, delivered: -1, acked: -1, lastSend: send, lastRecv: recv };
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
      expect(recv - s.lastSend, `${this.name}: ${what} answered 410 although the session was active within ${this.ctx.timeoutMs} ms`).toBeGreaterThan(this.ctx.timeoutMs);
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

  // ---- live feed ----

  async feedOpen(resume: boolean): Promise<void> {
    if (this.feed && !this.feed.reader.closed) return;
    await this.feedClose(true);
    let from: number;
    let query: string;
    const headers: Record<string, string> = {};
    if (resume && this.chainPos !== undefined) {
      // As an EventSource reconnects: same URL, Last-Event-ID (which wins over since).
      from = this.chainPos;
      headers['last-event-id'] = String(from);
      query = `?since=${this.chainFrom}`;
    } else {
      from = this.session?.headRev ?? this.base;
      query = `?since=${from}`;
      this.chainFrom = this.chainPos = from;
    }
    const reader = await FrameReader.open(this.ctx.server, this.ctx.storeId, query, headers);
    expect(reader.status, `${this.name}: feed ${query} ${JSON.stringify(headers)}`).toBe(200);
    expect(reader.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(reader.headers.get('cache-control')).toBe('no-cache');
    this.feed = { reader, from, purgedAtOpen: this.ctx.model.purgedRev, processed: 0, lastId: from, ready: false, reset: false };
    count(headers['last-event-id'] ? 'feed reconnect (Last-Event-ID)' : 'feed open');
    this.ctx.log(`  ${this.name} feed opened from ${from}${headers['last-event-id'] ? ' (Last-Event-ID)' : ''}`);
  }

  /** Processes what is left of the connection, then drops it (a client reads its buffer before it notices the end). */
  async feedClose(processRest = false): Promise<void> {
    const c = this.feed;
    if (!c) return;
    if (processRest) while (c.processed < c.reader.frames.length) this.process(c.reader.frames[c.processed]!);
    c.reader.close();
    this.feed = undefined;
  }

  /**
   * Waits until `n` unread frames arrived or the feed caught up with the
   * store (every existing row delivered), then processes up to `n` frames.
   */
  async feedRead(n: number): Promise<void> {
    const c = this.feed;
    if (!c) return;
    const target = this.ctx.model.lastRowRev();
    const caughtUp = () => Math.max(c.from, c.reader.maxId ?? 0) >= target;
    const ok = await c.reader.waitUntil(() => c.reader.frames.length - c.processed >= n || caughtUp(), 5000);
    if (!ok && !c.reader.closed) throw new Error(`${this.name}: feed from ${c.from} stalled before rev ${target}; frames ${JSON.stringify(c.reader.frames)}`);
    const until = Math.min(c.reader.frames.length, c.processed + n);
    while (c.processed < until) this.process(c.reader.frames[c.processed]!);
    if (c.reader.closed && c.processed === c.reader.frames.length) {
      this.ctx.log(`  ${this.name} feed closed by the server`);
      this.feed = undefined;
    }
  }

  /** Reads the feed until it has delivered every existing row (or it ends). */
  async follow(): Promise<void> {
    while (this.feed) {
      const c = this.feed;
      await this.feedRead(Number.MAX_SAFE_INTEGER);
      if (this.feed === c && c.lastId >= this.ctx.model.lastRowRev() && c.processed === c.reader.frames.length) return;
    }
  }

  private process(f: Frame): void {
    const c = this.feed!;
    const model = this.ctx.model;
    const what = `${this.name}: feed from ${c.from}, frame ${c.processed} ${JSON.stringify(f)}`;
    expect(c.reset, `${what} after reset`).toBe(false);
    if (c.processed === 0 && c.purgedAtOpen > c.from) expect(f.kind === 'event' && f.event, `${what}: must reset`).toBe('reset');
    c.processed++;
    if (f.kind === 'heartbeat') {
      expect(f.id, `${what}: heartbeat ids never go back`).toBeGreaterThanOrEqual(c.lastId);
      expect(f.id, what).toBeLessThanOrEqual(model.head);
      count('feed heartbeat');
      c.lastId = this.chainPos = f.id;
    } else if (f.event === 'put' || f.event === 'delete') {
      expect(f.id, `${what}: event ids strictly increase`).toBeGreaterThan(c.lastId);
      expect(f.data?.rev, what).toBe(f.id);
      expect(f.event, what).toBe(f.data?.deleted ? 'delete' : 'put');
      count('feed event');
      this.applyServerEntry(f.data, `feed (from ${c.from})`);
      c.lastId = this.chainPos = f.id!;
    } else if (f.event === 'ready') {
      expect(c.ready, `${what}: one ready`).toBe(false);
      expect(f.data.headRev, what).toBeGreaterThanOrEqual(c.lastId);
      expect(f.data.headRev, what).toBeLessThanOrEqual(model.head);
      c.ready = true;
    } else if (f.event === 'reset') {
      expect(c.ready, `${what}: reset before ready`).toBe(false);
      expect(c.from, `${what}: reset only below the purge horizon`).toBeLessThan(model.purgedRev);
      expect(f.data.reason, what).toBe('since-purged');
      count('feed reset');
      c.reset = true;
      this.chainFrom = this.chainPos = undefined;
      this.ctx.log(`  ${this.name} feed reset`);
    } else {
      throw new Error(`${what}: unexpected event`);
    }
    this.advance();
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
