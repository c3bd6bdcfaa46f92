/**
 * Child process of bench/scale.ts: live subscribers through nginx, each
 * reconnecting with Last-Event-ID, recording every rev once with its latency
 * (from the write's send time, carried in the value, on the machine's shared
 * clock) and how long each cut took until the feed was live again.
 * Commands: `open` (resolves once every feed said `ready`), `collect` (waits
 * until every expected rev arrived or the time is up), `close`.
 */
import { createParser } from 'eventsource-parser';
import { childArgs, serveCommands } from '../lib/child-commands.js';
import { clock, sleep } from '../lib/stats.js';

const { base, stores, count, offset, authorization } = childArgs<{ base: string; stores: string[]; count: number; offset: number; authorization: string }>();
const auth = { authorization };

/** One live subscriber through nginx: reconnects with Last-Event-ID, records every rev once and its latency. */
class Subscriber {
  revs = new Set<number>();
  lastId: string | undefined;
  ready = false;
  /** times from a cut to the next `ready` (ms) */
  reconnects: number[] = [];
  latencies: number[] = [];
  private cutAt: number | undefined;
  private stopped = false;
  private abort = new AbortController();

  constructor(
    private readonly base: string,
    readonly storeId: string,
  ) {}

  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const headers: Record<string, string> = { ...auth, accept: 'text/event-stream' };
        if (this.lastId !== undefined) headers['last-event-id'] = this.lastId;
        const res = await fetch(`${this.base}/v1/stores/${this.storeId}/events${this.lastId === undefined ? '?since=0' : ''}`, {
          headers,
          signal: this.abort.signal,
        });
        if (res.status !== 200 || !res.body) throw new Error(`feed ${res.status}`);
        const parser = createParser({
          onEvent: (msg) => {
            if (msg.id) this.lastId = msg.id;
            if (msg.event === 'ready') this.ready = true;
            if (msg.event === 'ready' && this.cutAt !== undefined) {
              this.reconnects.push(clock() - this.cutAt);
              this.cutAt = undefined;
            }
            if (msg.event !== 'put') return;
            const data = JSON.parse(msg.data) as { rev: number; value: { t: number } };
            if (!this.revs.has(data.rev)) {
              this.revs.add(data.rev);
              this.latencies.push(clock() - data.value.t);
            }
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        /* cut: reconnect below */
      }
      if (this.stopped) return;
      this.cutAt ??= clock();
      await sleep(50 + Math.random() * 200);
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }
}

const subscribers = Array.from({ length: count }, (_, i) => new Subscriber(base, stores[(offset + i) % stores.length]!));
let running: Array<Promise<void>> = [];

serveCommands(async (msg: { cmd: string; expected?: Record<string, number[]>; waitMs?: number }) => {
  if (msg.cmd === 'open') {
    running = subscribers.map((s) => s.run());
    const until = clock() + 120_000;
    while (subscribers.some((s) => !s.ready) && clock() < until) await sleep(100);
    return { ready: subscribers.filter((s) => s.ready).length };
  }
  if (msg.cmd === 'collect') {
    const expected = new Map(Object.entries(msg.expected!).map(([k, v]) => [k, v]));
    const missing = () => subscribers.reduce((n, s) => n + (expected.get(s.storeId) ?? []).filter((r) => !s.revs.has(r)).length, 0);
    const until = clock() + (msg.waitMs ?? 60_000);
    while (missing() > 0 && clock() < until) await sleep(200);
    const total = subscribers.reduce((n, s) => n + (expected.get(s.storeId)?.length ?? 0), 0);
    const latencies = subscribers.flatMap((s) => s.latencies);
    // A sample keeps the IPC message small; percentiles of 20,000 values are stable enough.
    const step = Math.max(1, Math.floor(latencies.length / 20_000));
    return {
      expected: total,
      delivered: total - missing(),
      latencies: latencies.filter((_, i) => i % step === 0),
      reconnects: subscribers.flatMap((s) => s.reconnects),
    };
  }
  if (msg.cmd === 'close') {
    for (const s of subscribers) s.stop();
    await Promise.allSettled(running);
    return {};
  }
  throw new Error(`unknown command ${msg.cmd}`);
});
