/**
 * A live-feed reader for the model test that keeps every frame in arrival
 * order, including id-only heartbeat frames (which an EventSource parser
 * swallows), so the test can check the order of all ids of one connection.
 */
import type { TestServer } from '../support/server.js';

export type Frame =
  | { kind: 'event'; event: string; id: number | undefined; data: any }
  | { kind: 'heartbeat'; id: number };

export class FrameReader {
  readonly frames: Frame[] = [];
  closed = false;
  /** highest id received so far (events and heartbeats), processed or not */
  maxId: number | undefined;
  private waiters = new Set<() => void>();

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly abort: AbortController,
  ) {}

  static async open(server: TestServer, storeId: string, query: string, headers: Record<string, string>): Promise<FrameReader> {
    const abort = new AbortController();
    const res = await server.fetch(`/v1/stores/${storeId}/events${query}`, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    const reader = new FrameReader(res.status, res.headers, abort);
    void reader.pump(res);
    return reader;
  }

  close(): void {
    this.abort.abort();
  }

  /** Resolves true once `pred` holds, false when the stream closed or the time ran out first. */
  waitUntil(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (pred()) finish(true);
        else if (this.closed) finish(pred());
      };
      const timer = setTimeout(() => finish(pred()), timeoutMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      this.waiters.add(check);
      check();
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private async pump(res: Response): Promise<void> {
    let buffer = '';
    const decoder = new TextDecoder();
    try {
      if (res.body) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            this.block(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
          this.notify();
        }
      }
    } catch {
      /* aborted or cut by a restart */
    } finally {
      this.closed = true;
      this.notify();
    }
  }

  private block(text: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    const numericId = id === undefined ? undefined : Number(id);
    if (numericId !== undefined) {
      if (!Number.isSafeInteger(numericId)) {
        this.frames.push({ kind: 'event', event: 'invalid-id', id: undefined, data: id });
        return;
      }
      this.maxId = Math.max(this.maxId ?? 0, numericId);
    }
    if (data.length > 0) {
      const text = data.join('\n');
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* keep the text; the test flags it */
      }
      this.frames.push({ kind: 'event', event, id: numericId, data: parsed });
    } else if (numericId !== undefined) {
      this.frames.push({ kind: 'heartbeat', id: numericId });
    }
  }
}
