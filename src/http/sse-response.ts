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
import type { FeedSink } from '../live/feed.js';
import type { FrameBatch } from '../live/frames.js';

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
  const head: Record<string, string> = {};
  headers.forEach((value, name) => (head[name] = value));
  for (const [name, value] of Object.entries(SSE_HEADERS)) head[name.toLowerCase()] = value;
  res.writeHead(200, head);
  res.flushHeaders();
  void run(nodeSink(res)).then(
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

function nodeSink(res: ServerResponse): FeedSink {
  const socket = res.socket;
  // Straight to the socket when the head is on it (a pipelined response waiting for
  // its turn holds its bytes in `res`) and the body is chunked (HTTP/1.1) or raw (1.0).
  const direct = socket !== null && res.writableLength === socket.writableLength;
  const framed = direct && res.chunkedEncoding;
  const encode = framed ? httpChunk : (text: string) => text;
  const put = direct ? (data: Buffer | string) => socket.write(data) : (data: Buffer | string) => res.write(data);
  const closed = () => res.destroyed || res.writableEnded;
  return {
    write(data) {
      if (closed()) return;
      if (typeof data === 'string') put(encode(data));
      else put(framed ? (data.wire ??= httpChunk(data.text)) : data.text);
    },
    backlogged: () => res.writableLength > 0,
    drained: () =>
      res.writableLength === 0 || closed()
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const emitter = direct ? socket : res;
            const done = () => {
              emitter.off('drain', done);
              res.off('close', done);
              resolve();
            };
            emitter.once('drain', done);
            res.once('close', done);
          }),
    onClose: (cb) => void res.once('close', cb),
    terminate: () => void res.destroy(),
  };
}

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
          write(data: string | FrameBatch) {
            if (!cut && !cancelled) controller.enqueue(encoder.encode(typeof data === 'string' ? data : data.text));
          },
          backlogged,
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
