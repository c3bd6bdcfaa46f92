/**
 * Reads a live feed over real HTTP and records every event (with its id),
 * using eventsource-parser for the SSE framing.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { TestServer } from './server.js';

export interface FeedEvent {
  event: string;
  id?: string;
  data: any;
}

export interface Feed {
  status: number;
  headers: Headers;
  events: FeedEvent[];
  comments: string[];
  /** the last id seen, including id-only heartbeat frames */
  lastId: string | undefined;
  closed: Promise<void>;
  isClosed(): boolean;
  waitFor(pred: (events: FeedEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export async function openFeed(server: TestServer, storeId: string, query = '', headers: Record<string, string> = {}): Promise<Feed> {
  const abort = new AbortController();
  const res = await server.fetch(`/v1/stores/${storeId}/events${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: FeedEvent[] = [];
  const comments: string[] = [];
  let closedFlag = false;
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());
  const feed: Feed = {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    lastId: undefined,
    closed: Promise.resolve(),
    isClosed: () => closedFlag,
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(events)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          } else if (closedFlag) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`feed closed; events: ${JSON.stringify(events.map((e) => [e.event, e.id]))}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timeout; events: ${JSON.stringify(events.map((e) => [e.event, e.id]))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => abort.abort(),
  };
  const parser = createParser({
    onEvent(msg: EventSourceMessage) {
      if (msg.id !== undefined) feed.lastId = msg.id;
      let data: any = msg.data;
      try {
        data = JSON.parse(msg.data);
      } catch {
        /* keep text */
      }
      events.push({ event: msg.event ?? 'message', id: msg.id, data });
      notify();
    },
    onComment(comment) {
      comments.push(comment);
      notify();
    },
  });
  feed.closed = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        // id-only frames (heartbeats) dispatch no event; track their id by hand.
        for (const m of text.matchAll(/^id: (\d+)$/gm)) feed.lastId = m[1];
        parser.feed(text);
      }
    } catch {
      /* aborted */
    } finally {
      closedFlag = true;
      notify();
    }
  })();
  return feed;
}
