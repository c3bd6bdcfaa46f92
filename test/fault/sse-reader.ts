/**
 * A live-feed reader for process-level tests: records events and ids, and
 * tells a clean end of the stream (the server finished the response) from
 * a cut one (reset, truncated chunked encoding).
 */
import { createParser } from 'eventsource-parser';

export interface FeedReader {
  status: number;
  events: Array<{ event: string; id?: string; data: any }>;
  /** last id of a complete frame (what a client sends back as Last-Event-ID) */
  lastId: string | undefined;
  /** 'clean' when the response ended normally, else the error */
  ended: Promise<string>;
  waitFor(pred: () => boolean, ms?: number): Promise<void>;
  close(): void;
}

export async function readFeed(baseUrl: string, storeId: string, headers: Record<string, string> = {}, query = ''): Promise<FeedReader> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/v1/stores/${storeId}/events${query}`, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const reader: FeedReader = {
    status: res.status,
    events: [],
    lastId: undefined,
    ended: Promise.resolve('clean'),
    async waitFor(pred, ms = 10_000) {
      const until = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > until) throw new Error(`timeout; ${reader.events.length} events, last id ${reader.lastId}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () => abort.abort(),
  };
  const parser = createParser({
    onEvent(msg) {
      if (msg.id !== undefined) reader.lastId = msg.id;
      let data: any = msg.data;
      try {
        data = JSON.parse(msg.data);
      } catch {
        /* text */
      }
      reader.events.push({ event: msg.event ?? 'message', id: msg.id, data });
    },
  });
  reader.ended = (async () => {
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      return `status ${res.status}`;
    }
    const decoder = new TextDecoder();
    let pending = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        parser.feed(text);
        // id-only frames (heartbeats) move the position too; count them once their frame is complete.
        pending += text;
        const done = pending.lastIndexOf('\n\n');
        if (done >= 0) {
          for (const m of pending.slice(0, done).matchAll(/^id: (\d+)$/gm)) reader.lastId = m[1];
          pending = pending.slice(done + 2);
        }
      }
      return 'clean';
    } catch (err) {
      return `error: ${(err as Error).message}${(err as Error).cause ? ` (${String((err as Error).cause)})` : ''}`;
    }
  })();
  return reader;
}
