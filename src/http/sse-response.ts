/**
 * Live feed responses with the least machinery per connection.
 *
 * On Node (node-server's raw ServerResponse), the feed owns the response:
 * its head goes out at once and its frames go straight onto the socket,
 * framed as HTTP chunks; the frames of one tailer read are framed once and
 * the same Buffer goes to every subscriber. No web stream, encoder, promise
 * or timer per connection: an idle feed costs little more than its socket.
 *
 * Elsewhere (app.request, other runtimes) the frames go through an ordinary
 * streaming Response body.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FeedSink } from '../live/feed.js';
import type { FrameBatch, LiveRow } from '../live/frames.js';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
} as const;

/** `text` as one HTTP/1.1 chunk: `<size in hex>\r\n<bytes>\r\n`. */
function httpChunk(text: string): Buffer {
  return Buffer.from(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
}

/**
 * Writes the head (`headers` and the SSE ones) and runs the feed on `res`;
 * the response ends when `run` settles.
 */
export function runOnNodeResponse(res: ServerResponse, headers: Headers, run: (sink: FeedSink) => Promise<unknown>): void {
  res.writeHead(200, responseHead(headers));
  res.flushHeaders();
  void run(new NodeSink(res)).then(
    () => {
      if (!res.destroyed) res.end();
    },
    (err: unknown) => {
      // The head is out: all that is left is to cut the connection, and tell the operator.
      console.error(err);
      res.destroy();
    },
  );
}

function responseHead(headers: Headers): Record<string, string> {
  const head: Record<string, string> = {};
  headers.forEach((value, name) => (head[name] = value));
  for (const [name, value] of Object.entries(SSE_HEADERS)) head[name.toLowerCase()] = value;
  return head;
}

/** A feed's sink on a Node response: a class, so an idle feed holds one small object here, not a closure per method. */
class NodeSink implements FeedSink {
  /** the connection, when frames go straight onto it rather than through `res` */
  private readonly socket: Socket | undefined;
  /** the body is chunked (HTTP/1.1): frames go out as HTTP chunks */
  private readonly framed: boolean;

  constructor(private readonly res: ServerResponse) {
    const socket = res.socket;
    // Straight to the socket when the head is on it (a pipelined response waiting for
    // its turn holds its bytes in `res`) and the body is chunked (HTTP/1.1) or raw (1.0).
    this.socket = socket !== null && res.writableLength === socket.writableLength ? socket : undefined;
    this.framed = this.socket !== undefined && res.chunkedEncoding;
  }

  private closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  private put(data: Buffer | string): void {
    if (this.socket) this.socket.write(data);
    else this.res.write(data);
  }

  write(data: string | FrameBatch | readonly LiveRow[]): void {
    if (this.closed()) return;
    if (typeof data === 'string') this.put(this.framed ? httpChunk(data) : data);
    else if (!isRows(data)) this.put(this.framed ? (data.wire ??= httpChunk(data.text)) : data.text);
    else {
      // Some rows of a shared batch: each row's chunk is shared with every feed that writes it.
      const emitter = this.socket ?? this.res;
      emitter.cork();
      for (const row of data) this.put(this.framed ? (row.wire ??= httpChunk(row.frame)) : row.frame);
      process.nextTick(() => emitter.uncork());
    }
  }

  backlogged(): boolean {
    return this.res.writableLength > 0;
  }

  pendingBytes(): number {
    return (this.socket ?? this.res).writableLength;
  }

  drained(): Promise<void> {
    const { res } = this;
    if (res.writableLength === 0 || this.closed()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const emitter = this.socket ?? res;
      const done = () => {
        emitter.off('drain', done);
        res.off('close', done);
        resolve();
      };
      emitter.once('drain', done);
      res.once('close', done);
    });
  }

  onClose(cb: () => void): void {
    this.res.once('close', cb);
  }

  terminate(): void {
    this.res.destroy();
  }
}

const isRows = (data: FrameBatch | readonly LiveRow[]): data is readonly LiveRow[] => Array.isArray(data);

/** A streaming body for `run`, for runtimes without a Node response; it ends when `run` settles. */
export function sseBody(run: (sink: FeedSink) => Promise<unknown>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let onCancel: (() => void) | undefined;
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let cut = false;
        const backlogged = () => !cut && !cancelled && (controller.desiredSize ?? 0) < 0;
        const sink: FeedSink = {
          write(data: string | FrameBatch | readonly LiveRow[]) {
            if (cut || cancelled) return;
            const text = typeof data === 'string' ? data : isRows(data) ? data.map((r) => r.frame).join('') : data.text;
            controller.enqueue(encoder.encode(text));
          },
          backlogged,
          pendingBytes: () => (cut || cancelled ? 0 : Math.max(0, 64 * 1024 - (controller.desiredSize ?? 0))),
          // A stream tells no one when its reader catches up: look again shortly.
          drained: async () => {
            while (backlogged()) await new Promise((r) => setTimeout(r, 5));
          },
          onClose: (cb) => (cancelled ? cb() : void (onCancel = cb)),
          terminate() {
            cut = true;
            controller.error(new Error('live feed cut off'));
          },
        };
        void run(sink)
          .catch((err: unknown) => console.error(err))
          .finally(() => {
            try {
              controller.close();
            } catch {
              /* cut off or cancelled already */
            }
          });
      },
      cancel() {
        cancelled = true;
        onCancel?.();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}
