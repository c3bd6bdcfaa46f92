/**
 * The one live-feed reader of the tests: opens GET /v1/stores/:id/events
 * over real HTTP and keeps every frame (raw text, comments, id, event,
 * data), the events those frames dispatch, the body's byte count, and how
 * the stream ended. Field parsing is eventsource-parser's; this file only
 * cuts the stream into frames, so that ids are taken from complete frames
 * only (an `id:` line of a frame cut off by a dropped connection does not
 * count, which is what a correct client sends back as Last-Event-ID).
 *
 * `pause()` stops pulling the body (the socket fills and the server sees a
 * slow consumer), `resume()` pulls again.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { TestServer } from './server.js';

export interface Frame {
  event?: string;
  id?: string;
  /** the data lines joined with \n (undefined when there were none) */
  data?: string;
  comments: string[];
  /** the frame's text without its closing blank line */
  raw: string;
}

/** A frame that carries data, with the data JSON-parsed when it is JSON. */
export interface FeedEvent {
  event: string;
  id?: string;
  data: any;
}

/**
 * How the stream ended: 'clean' when the server finished the response,
 * 'closed' after close(), `status N` for a refused request (its body is
 * drained), `cut: …` when the connection broke mid-response.
 */
export type FeedEnd = 'clean' | 'closed' | `status ${number}` | `cut: ${string}`;

export interface FeedOptions {
  headers?: Record<string, string>;
}

export interface Feed {
  status: number;
  headers: Headers;
  frames: Frame[];
  events: FeedEvent[];
  /** every comment line, in order (heartbeats are `ping` comments) */
  comments: string[];
  /** the last id of a complete frame, data-less heartbeat frames included */
  lastId: string | undefined;
  /** bytes of body received so far */
  bytes: number;
  ended: Promise<FeedEnd>;
  isClosed(): boolean;
  /** Resolves once `pred` holds; rejects when the stream ends or the time runs out first. */
  waitFor(pred: (feed: Feed) => boolean, timeoutMs?: number): Promise<void>;
  pause(): void;
  resume(): void;
  close(): void;
}

/** Opens a live feed on a test server, or on a base URL (another process, a proxy). */
export async function openFeed(target: TestServer | string, storeId: string, query = '', options: FeedOptions = {}): Promise<Feed> {
  const abort = new AbortController();
  const base = typeof target === 'string' ? target : target.url;
  const res = await fetch(`${base}/v1/stores/${storeId}/events${query}`, {
    headers: { accept: 'text/event-stream', ...options.headers },
    signal: abort.signal,
  });
  let closedFlag = false;
  let paused = false;
  let unpause: (() => void) | undefined;
  const waiters = new Set<() => void>();
  const notify = () => [...waiters].forEach((w) => w());

  const feed: Feed = {
    status: res.status,
    headers: res.headers,
    frames: [],
    events: [],
    comments: [],
    lastId: undefined,
    bytes: 0,
    ended: Promise.resolve('clean'),
    isClosed: () => closedFlag,
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const describe = () => `${feed.frames.length} frames, last: ${JSON.stringify(feed.frames.slice(-5).map((f) => f.raw.slice(0, 120)))}`;
        const done = (err?: Error) => {
          waiters.delete(check);
          clearTimeout(timer);
          clearInterval(poll);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          if (pred(feed)) done();
          else if (closedFlag) done(new Error(`feed ended after ${describe()}`));
        };
        const timer = setTimeout(() => done(new Error(`timeout after ${describe()}`)), timeoutMs);
        // Predicates may also look at state outside the feed; check them now and then too.
        const poll = setInterval(check, 20);
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

  const readFrame = framesReader(feed);
  feed.ended = (async (): Promise<FeedEnd> => {
    try {
      if (res.status !== 200 || !res.body) {
        await res.arrayBuffer().catch(() => undefined);
        return `status ${res.status}`;
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let pending = '';
      for (;;) {
        while (paused) await new Promise<void>((resolve) => (unpause = resolve));
        const { done, value } = await reader.read();
        if (done) return 'clean';
        feed.bytes += value.byteLength;
        pending += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let start = 0;
        let cut: number;
        while ((cut = pending.indexOf('\n\n', start)) >= 0) {
          readFrame(pending.slice(start, cut));
          start = cut + 2;
        }
        pending = pending.slice(start);
        notify();
      }
    } catch (err) {
      if (abort.signal.aborted) return 'closed';
      const { message, cause } = err as Error;
      return `cut: ${message}${cause ? ` (${String(cause)})` : ''}`;
    } finally {
      closedFlag = true;
      notify();
    }
  })();
  return feed;
}

/** Reads one complete frame into the feed with eventsource-parser. */
function framesReader(feed: Feed): (raw: string) => void {
  let current: Frame;
  let countComments = true;
  const dispatched: EventSourceMessage[] = [];
  const parser = createParser({
    onEvent: (msg) => dispatched.push(msg),
    onComment: (comment) => {
      if (!countComments) return;
      current.comments.push(comment);
      feed.comments.push(comment);
    },
  });
  return (raw) => {
    current = { comments: [], raw };
    parser.feed(`${raw}\n\n`);
    const event = dispatched.shift();
    if (event) {
      current.data = event.data;
      feed.events.push({ event: event.event ?? 'message', id: event.id, data: parseData(event.data) });
    } else {
      // The parser dispatches nothing for a frame without data (a heartbeat
      // that carries only an id); read it again with an empty data line to
      // learn its id and event.
      countComments = false;
      parser.feed(`${raw}\ndata\n\n`);
      countComments = true;
    }
    const fields = event ?? dispatched.shift();
    if (fields?.id !== undefined) current.id = feed.lastId = fields.id;
    if (fields?.event !== undefined) current.event = fields.event;
    feed.frames.push(current);
  };
}

function parseData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
