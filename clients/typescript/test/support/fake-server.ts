/**
 * An in-memory keysync server behind a `fetch` function, implementing the
 * sync sequence of API.md faithfully enough to drive the client's loop:
 * handshake (since | have, since-purged, since-ahead), batches with the
 * window rule and 410 expiry, idempotent acks, and an SSE feed the test
 * writes frames into. Not a substitute for the end-to-end tests against the
 * real server; it exists to pin down ordering (apply → ack, window).
 */
import { problemType, type ProblemKind, type WireEntry } from '@keysync/protocol';

interface Session {
  stale: string[];
  batchSize: number;
  window: number;
  delivered: Set<number>;
  acked: number; // highest acked cursor, -1 for none
  expired: boolean;
}

export interface Feed {
  url: URL;
  headers: Headers;
  push(frame: string): void;
  close(): void;
  closed: boolean;
}

export interface Call {
  method: string;
  path: string;
  body: unknown;
  status: number;
}

const ts = (rev: number) => `2026-11-26T07:00:00.${String(rev).padStart(6, '0')}Z`;

export class FakeServer {
  readonly entries = new Map<string, WireEntry>();
  headRev = 0;
  purgedRev = 0;
  window = 1;
  batchSize = 2;
  readonly calls: Call[] = [];
  readonly feeds: Feed[] = [];
  readonly sessions = new Map<string, Session>();
  /** Refuse a handshake naming `inline`, as a server older than the inline batch does; else ignore it (never inline). */
  refusesInline = false;
  /** Changes a handshake's answer before it is sent (a faulty server). */
  alterHandshake?: (answer: Record<string, unknown>) => Record<string, unknown>;
  /** Respond to the next matching request with this status instead. */
  readonly failNext: { match: RegExp; status: number; kind?: ProblemKind }[] = [];
  /** Called before an ack is answered: assert what the client holds by then. */
  onAck?: (cursor: number, keys: string[]) => Promise<void> | void;
  /** Called when a batch is served. */
  onBatch?: (sessionId: string, cursor: number) => void;
  #sessions = 0;

  put(key: string, value: unknown): WireEntry {
    const rev = ++this.headRev;
    const e: WireEntry = { key, rev, ts: ts(rev), value };
    this.entries.set(key, e);
    return e;
  }

  del(key: string): WireEntry {
    const rev = ++this.headRev;
    const e: WireEntry = { key, rev, ts: ts(rev), deleted: true };
    this.entries.set(key, e);
    return e;
  }

  expireSessions(): void {
    for (const s of this.sessions.values()) s.expired = true;
  }

  /** A `fetch` bound to this server. */
  readonly fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input);
    const method = init.method ?? 'GET';
    const body: unknown = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    const call: Call = { method, path: url.pathname + url.search, body, status: 0 };
    this.calls.push(call);
    const response = await this.#route(url, method, body, init);
    call.status = response.status;
    return response;
  };

  async #route(url: URL, method: string, body: unknown, init: RequestInit): Promise<Response> {
    const fail = this.failNext.findIndex((f) => f.match.test(`${method} ${url.pathname}`));
    if (fail !== -1) {
      const [f] = this.failNext.splice(fail, 1);
      return problem(f!.status, f!.kind ?? 'internal');
    }
    const m = /^\/v1\/stores\/[^/]+\/(sync|events)(?:\/([^/]+)(?:\/(batches|ack)(?:\/(\d+))?)?)?$/.exec(url.pathname);
    if (!m) return problem(404, 'not-found');
    const [, what, sid, sub, cursor] = m;
    if (what === 'events') return this.#events(url, new Headers(init.headers), init.signal ?? undefined);
    if (!sid) return this.#handshake(body as { have?: Record<string, string>; since?: number });
    const session = this.sessions.get(sid);
    if (method === 'DELETE') return new Response(null, { status: 204 });
    if (!session || session.expired) return problem(410, 'session-expired');
    if (sub === 'batches') return this.#batch(sid, session, Number(cursor));
    return this.#ack(session, (body as { cursor: number }).cursor);
  }

  #handshake(body: { have?: Record<string, string>; since?: number; inline?: boolean }): Response {
    if (this.refusesInline && 'inline' in body) {
      return json(400, {
        type: problemType('validation'),
        title: 'Validation Failed',
        status: 400,
        detail: 'The request is not valid',
        errors: [{ path: '(body)', message: 'Unrecognized key: "inline"' }],
      });
    }
    let stale: WireEntry[];
    let removed: string[];
    if (body.since !== undefined) {
      if (body.since < this.purgedRev) return problem(409, 'since-purged');
      if (body.since > this.headRev) return problem(409, 'since-ahead');
      const changed = [...this.entries.values()].filter((e) => e.rev > body.since!);
      stale = changed.filter((e) => !('deleted' in e));
      removed = changed.filter((e) => 'deleted' in e).map((e) => e.key);
    } else {
      const have = body.have ?? {};
      stale = [...this.entries.values()].filter((e) => !('deleted' in e) && have[e.key] !== e.ts);
      removed = Object.keys(have).filter((k) => {
        const e = this.entries.get(k);
        return !e || 'deleted' in e;
      });
    }
    stale.sort((a, b) => a.rev - b.rev);
    const sessionId = `s${++this.#sessions}`;
    const keys = stale.map((e) => e.key);
    this.sessions.set(sessionId, {
      stale: keys,
      batchSize: this.batchSize,
      window: this.window,
      delivered: new Set(),
      acked: -1,
      expired: false,
    });
    const answer = {
      sessionId,
      stale: keys,
      removed,
      headRev: this.headRev,
      batchSize: this.batchSize,
      batches: Math.ceil(keys.length / this.batchSize),
      window: this.window,
      expiresAt: '2026-11-26T08:00:00Z',
    };
    return json(201, this.alterHandshake ? this.alterHandshake(answer) : answer);
  }

  #batch(sid: string, s: Session, cursor: number): Response {
    const batches = Math.ceil(s.stale.length / s.batchSize);
    if (cursor >= batches) return problem(404, 'not-found');
    if (cursor - (s.acked + 1) >= s.window) return problem(409, 'ack-required');
    s.delivered.add(cursor);
    this.onBatch?.(sid, cursor);
    const keys = s.stale.slice(cursor * s.batchSize, (cursor + 1) * s.batchSize);
    return json(200, { cursor, entries: keys.map((k) => this.entries.get(k)), next: cursor + 1 < batches ? cursor + 1 : null });
  }

  async #ack(s: Session, cursor: number): Promise<Response> {
    if (!s.delivered.has(cursor)) return problem(409, 'not-delivered');
    await this.onAck?.(cursor, s.stale.slice(cursor * s.batchSize, (cursor + 1) * s.batchSize));
    s.acked = Math.max(s.acked, cursor);
    const batches = Math.ceil(s.stale.length / s.batchSize);
    const remaining = Math.max(0, s.stale.length - (s.acked + 1) * s.batchSize);
    return json(200, { acked: s.acked, next: s.acked + 1 < batches ? s.acked + 1 : null, remaining, done: s.acked === batches - 1 });
  }

  #events(url: URL, headers: Headers, signal: AbortSignal | undefined): Response {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const feed: Feed = {
      url,
      headers,
      closed: false,
      push: (frame) => {
        if (!feed.closed) controller.enqueue(new TextEncoder().encode(frame));
      },
      close: () => {
        if (feed.closed) return;
        feed.closed = true;
        controller.close();
      },
    };
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => {
        feed.closed = true;
      },
    });
    signal?.addEventListener('abort', () => {
      if (!feed.closed) {
        feed.closed = true;
        controller.error(signal.reason);
      }
    });
    this.feeds.push(feed);
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }
}

/** SSE frame of a put/delete as the server sends it. */
export function entryFrame(e: WireEntry): string {
  return `event: ${'deleted' in e ? 'delete' : 'put'}\nid: ${e.rev}\ndata: ${JSON.stringify(e)}\n\n`;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function problem(status: number, kind: ProblemKind): Response {
  return new Response(JSON.stringify({ type: problemType(kind), title: kind, status }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });
}
