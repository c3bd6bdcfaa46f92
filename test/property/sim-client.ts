/**
 * A simulated client with its live feed: connections opened from the
 * checkpoint (or a session's headRev), reconnected with Last-Event-ID, read
 * a few frames at a time; every frame is checked against the store model.
 */
import { expect } from 'vitest';
import { FrameReader, type Frame } from './frames.js';
import { SyncClient, count } from './sync-client.js';

interface Conn {
  reader: FrameReader;
  from: number;
  purgedAtOpen: number;
  processed: number;
  lastId: number;
  ready: boolean;
  reset: boolean;
}

export class SimClient extends SyncClient {
  feed: Conn | undefined;

  protected override beforeHave(): void {
    super.beforeHave();
    this.feed?.reader.close();
    this.feed = undefined;
  }

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

  /** Drops the connection; with `processRest`, first processes what it received (a client reads its buffer before it notices the end). */
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
      expect(f.data.purgedRev > c.from && f.data.purgedRev <= model.purgedRev, what).toBe(true);
      count('feed reset');
      c.reset = true;
      this.chainFrom = this.chainPos = undefined;
      this.ctx.log(`  ${this.name} feed reset`);
    } else {
      throw new Error(`${what}: unexpected event`);
    }
    this.advance();
  }
}
