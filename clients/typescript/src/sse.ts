/**
 * Server-Sent Events over `fetch`. The browser's EventSource cannot send an
 * Authorization header and reconnects on its own schedule, so we read the
 * streaming body ourselves and let the sync loop own reconnection.
 *
 * Parsing is eventsource-parser 3.x. One gap needs filling: the parser only
 * reports an `id` together with a dispatched event, but the live feed's
 * heartbeat is an id-only block (`: ping\nid: 42\n\n`) that must still move
 * Last-Event-ID (HTML spec: the id buffer is committed on dispatch even when
 * the data buffer is empty). So we split lines ourselves, feed the parser one
 * line at a time, note `id:` fields, and at each blank line know whether the
 * block dispatched an event or only moved the id.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';

export type SseItem =
  /** An event; `lastEventId` is the id in force after it (its own or an earlier one). */
  | { kind: 'event'; event: string; data: string; lastEventId: string }
  /** A block that only set the id (a heartbeat): resume point moved, nothing to dispatch. */
  | { kind: 'id'; lastEventId: string }
  | { kind: 'retry'; ms: number }
  | { kind: 'comment'; text: string };

/** Incremental, synchronous decoder: text in, items out, exactly per the SSE spec. */
export class SseDecoder {
  #lastEventId: string;
  #partial = '';
  #started = false;
  #blockId: string | undefined;
  #out: SseItem[] = [];
  readonly #parser: EventSourceParser;

  /** @param lastEventId the id to resume from, reported until the stream sets another */
  constructor(lastEventId = '') {
    this.#lastEventId = lastEventId;
    this.#parser = createParser({
      onEvent: (msg) => {
        // `event` is undefined when no `event:` field was sent; the spec's default is "message".
        this.#out.push({ kind: 'event', event: msg.event ?? 'message', data: msg.data, lastEventId: this.#lastEventId });
      },
      onRetry: (ms) => this.#out.push({ kind: 'retry', ms }),
      onComment: (text) => this.#out.push({ kind: 'comment', text }),
    });
  }

  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** Decodes the next chunk of text; returns the items it completed, in stream order. */
  push(text: string): SseItem[] {
    let buf = this.#partial + text;
    if (!this.#started && buf.length > 0) {
      this.#started = true;
      if (buf.charCodeAt(0) === 0xfeff) buf = buf.slice(1);
    }
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (c === 0x0d && i === buf.length - 1) break;
      this.#line(buf.slice(start, i));
      if (c === 0x0d && buf.charCodeAt(i + 1) === 0x0a) i++;
      start = i + 1;
    }
    this.#partial = buf.slice(start);
    return this.#drain();
  }

  /**
   * The stream ended. A trailing lone CR still ends a line; an unterminated
   * event is discarded, as the spec requires, because it may be truncated.
   */
  end(): SseItem[] {
    if (this.#partial === '\r') this.#line('');
    else if (this.#partial.endsWith('\r')) this.#line(this.#partial.slice(0, -1));
    this.#partial = '';
    this.#blockId = undefined;
    this.#parser.reset();
    return this.#drain();
  }

  #line(line: string): void {
    if (line === '') {
      // Commit the id before the parser dispatches, so the event carries it.
      const blockId = this.#blockId;
      this.#blockId = undefined;
      if (blockId !== undefined) this.#lastEventId = blockId;
      const before = this.#out.length;
      this.#parser.feed('\n');
      const dispatched = this.#out.slice(before).some((item) => item.kind === 'event');
      if (!dispatched && blockId !== undefined) this.#out.push({ kind: 'id', lastEventId: blockId });
      return;
    }
    const colon = line.indexOf(':');
    if (colon !== 0) {
      const field = colon === -1 ? line : line.slice(0, colon);
      if (field === 'id') {
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        // Spec: an id containing NUL is ignored.
        if (!value.includes('\0')) this.#blockId = value;
      }
    }
    this.#parser.feed(`${line}\n`);
  }

  #drain(): SseItem[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

/** No bytes arrived within the allowed time: the connection is taken for dead. */
export class StalledError extends Error {
  override name = 'StalledError';
  constructor(readonly idleMs: number) {
    super(`no data for ${idleMs} ms: connection taken for dead`);
  }
}

/**
 * Reads an SSE body to its end, handing each item to `onItem` in order and
 * waiting for it (so a slow store applies events one at a time, and TCP
 * back-pressure reaches the server instead of memory growing here).
 * Resolves at EOF; rejects with the abort reason when `signal` aborts, or with
 * the network error / `onItem`'s error. The body is always released.
 * `idleMs` (read before each wait) bounds the wait for the next bytes: a
 * connection that a proxy or network dropped without closing delivers nothing
 * forever, so after that long readSse rejects with StalledError. Time spent in
 * `onItem` does not count.
 * @example await readSse(res.body, (item) => console.log(item), controller.signal)
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onItem: (item: SseItem) => void | Promise<void>,
  options: { signal?: AbortSignal | undefined; lastEventId?: string | undefined; idleMs?: (() => number | undefined) | undefined } = {},
): Promise<void> {
  const { signal } = options;
  const decoder = new SseDecoder(options.lastEventId);
  const text = new TextDecoder();
  const reader = body.getReader();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    signal?.throwIfAborted();
    for (;;) {
      const { done, value } = await readWithin(reader, options.idleMs?.());
      signal?.throwIfAborted();
      if (done) break;
      for (const item of decoder.push(text.decode(value, { stream: true }))) {
        await onItem(item);
        signal?.throwIfAborted();
      }
    }
    finished = true;
    for (const item of [...decoder.push(text.decode()), ...decoder.end()]) await onItem(item);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * After the idle time, one more short wait before the verdict: a process whose
 * event loop was blocked (a long synchronous task) may run its overdue timers
 * before it reads the sockets, so bytes that arrived during the block would
 * otherwise be taken for silence.
 */
const STALL_GRACE_MS = 50;

async function readWithin<T>(reader: ReadableStreamDefaultReader<T>, ms: number | undefined): Promise<ReadableStreamReadResult<T>> {
  if (ms === undefined) return reader.read();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timer = setTimeout(() => reject(new StalledError(ms)), STALL_GRACE_MS);
    }, ms);
  });
  try {
    // The losing read settles when the caller cancels the reader.
    return await Promise.race([reader.read(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}
