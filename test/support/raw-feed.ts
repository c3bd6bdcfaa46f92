/**
 * A live feed read as raw SSE text, frame by frame, for exact frame
 * assertions and for flow control: `pause()` stops pulling the response
 * body (the socket then fills and the server sees backpressure), `resume()`
 * pulls again.
 *
 * Unlike sse.ts, `lastId` is taken from complete frames only (an `id:` line
 * of a frame cut off by a dropped connection does not count), which is what
 * a correct client must send as Last-Event-ID after an abrupt disconnect.
 */
import type { TestServer } from './server.js';

export interface Frame {
  event?: string;
  id?: string;
  /** the data lines joined with \n (undefined when there were none) */
  data?: string;
  comments: string[];
  raw: string;
}

export interface RawEvent {
  event: string;
  id?: string;
  data: any;
}

export interface RawFeed {
  status: number;
  headers: Headers;
  frames: Frame[];
  /** frames that dispatch an event (they carry data), with JSON-parsed data */
  events: RawEvent[];
  /** bytes of body received so far */
  bytes: number;
  lastId: string | undefined;
  closed: Promise<void>;
  isClosed(): boolean;
  waitFor(pred: (feed: RawFeed) => boolean, timeoutMs?: number): Promise<void>;
  pause(): void;
  resume(): void;
  close(): void;
}

export async function openRawFeed(server: TestServer, storeId: string, query = '', headers: Record<string, string> = {}): Promise<RawFeed> {
  const abort = new AbortController();
  const res = await server.fetch(`/v1/stores/${storeId}/events${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  let closedFlag = false;
  let paused = false;
  let unpause: (() => void) | undefined;
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());
  let pending = '';

  const feed: RawFeed = {
    status: res.status,
    headers: res.headers,
    frames: [],
    events: [],
    bytes: 0,
    lastId: undefined,
    closed: Promise.resolve(),
    isClosed: () => closedFlag,
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const done = (err?: Error) => {
          waiters.delete(check);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
        const describe = () => JSON.stringify(feed.frames.slice(-5).map((f) => f.raw.slice(0, 120)));
        const check = () => {
          if (pred(feed)) done();
          else if (closedFlag) done(new Error(`feed closed after ${feed.frames.length} frames; last: ${describe()}`));
        };
        const timer = setTimeout(() => done(new Error(`timeout after ${feed.frames.length} frames; last: ${describe()}`)), timeoutMs);
        waiters.add(check);
        check();
      });
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      unpause?.();
    },
    close: () => abort.abort(),
  };

  const onFrame = (raw: string) => {
    const frame: Frame = { comments: [], raw };
    const data: string[] = [];
    for (const line of raw.split('\n')) {
      if (line.startsWith(':')) frame.comments.push(line.slice(1).trimStart());
      else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') frame.event = value;
        else if (field === 'id') frame.id = value;
        else if (field === 'data') data.push(value);
      }
    }
    if (data.length > 0) frame.data = data.join('\n');
    feed.frames.push(frame);
    if (frame.id !== undefined) feed.lastId = frame.id;
    if (frame.data !== undefined) {
      let parsed: any = frame.data;
      try {
        parsed = JSON.parse(frame.data);
      } catch {
        /* keep text */
      }
      feed.events.push({ event: frame.event ?? 'message', id: frame.id, data: parsed });
    }
  };

  feed.closed = (async () => {
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        while (paused) await new Promise<void>((resolve) => (unpause = resolve));
        const { done, value } = await reader.read();
        if (done) break;
        feed.bytes += value.byteLength;
        pending += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = pending.indexOf('\n\n')) >= 0) {
          onFrame(pending.slice(0, cut));
          pending = pending.slice(cut + 2);
        }
        notify();
      }
    } catch {
      /* aborted or cut by the server */
    } finally {
      closedFlag = true;
      notify();
    }
  })();
  return feed;
}

/** Resolves when `pred` holds, polling every 20 ms. */
export async function eventually(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
