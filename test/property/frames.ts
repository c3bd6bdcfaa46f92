/**
 * The model test's view of a live feed: every frame in arrival order,
 * including id-only heartbeat frames, so the test can check the order of all
 * ids of one connection.
 */
import type { TestServer } from '../support/server.js';
import { openFeed, type Feed, type Frame as SseFrame } from '../support/sse.js';

export type Frame = { kind: 'event'; event: string; id: number | undefined; data: any } | { kind: 'heartbeat'; id: number };

export class FrameReader {
  private readonly seen: Frame[] = [];
  private read = 0;
  private highest: number | undefined;

  private constructor(private readonly feed: Feed) {}

  static async open(server: TestServer, storeId: string, query: string, headers: Record<string, string>): Promise<FrameReader> {
    return new FrameReader(await openFeed(server, storeId, query, { headers }));
  }

  get status(): number {
    return this.feed.status;
  }

  get headers(): Headers {
    return this.feed.headers;
  }

  get closed(): boolean {
    return this.feed.isClosed();
  }

  get frames(): Frame[] {
    this.catchUp();
    return this.seen;
  }

  /** highest id received so far (events and heartbeats), processed or not */
  get maxId(): number | undefined {
    this.catchUp();
    return this.highest;
  }

  close(): void {
    this.feed.close();
  }

  /** Resolves true once `pred` holds, false when the stream closed or the time ran out first. */
  waitUntil(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    return this.feed.waitFor(pred, timeoutMs).then(
      () => true,
      () => pred(),
    );
  }

  private catchUp(): void {
    for (; this.read < this.feed.frames.length; this.read++) this.add(this.feed.frames[this.read]!);
  }

  private add(frame: SseFrame): void {
    const numericId = frame.id === undefined ? undefined : Number(frame.id);
    if (numericId !== undefined) {
      if (!Number.isSafeInteger(numericId)) {
        this.seen.push({ kind: 'event', event: 'invalid-id', id: undefined, data: frame.id });
        return;
      }
      this.highest = Math.max(this.highest ?? 0, numericId);
    }
    if (frame.data !== undefined) {
      let parsed: unknown = frame.data;
      try {
        parsed = JSON.parse(frame.data);
      } catch {
        /* keep the text; the test flags it */
      }
      this.seen.push({ kind: 'event', event: frame.event ?? 'message', id: numericId, data: parsed });
    } else if (numericId !== undefined) {
      this.seen.push({ kind: 'heartbeat', id: numericId });
    }
  }
}
