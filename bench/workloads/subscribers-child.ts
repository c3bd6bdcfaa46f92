/**
 * Child process: S live subscribers (fetch + eventsource-parser), recording
 * for each put event its rev and arrival time on the machine's shared clock.
 * Commands: `open` (resolves once every feed said `ready`), `collect` (waits
 * for the last rev, then latency from each write's 2xx, misses, duplicates),
 * `close`.
 */
import { createParser } from 'eventsource-parser';
import { childArgs, serveCommands } from '../lib/child.js';
import { clock, sleep, summarize } from '../lib/stats.js';

const { baseUrl, storeId } = childArgs<{ baseUrl: string; storeId: string }>();

class Feed {
  revs: Float64Array;
  times: Float64Array;
  n = 0;
  lastRev = 0;
  ready: Promise<void>;
  ended = false;
  private readonly abort = new AbortController();

  constructor(capacity: number) {
    this.revs = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.ready = this.run();
    this.ready.catch(() => {});
  }

  private run(): Promise<void> {
    return new Promise((resolve, reject) => {
      const parser = createParser({
        onEvent: (e) => {
          if (e.event === 'ready') return resolve();
          if (e.event !== 'put' && e.event !== 'delete') return;
          const rev = Number(e.id);
          if (this.n === this.revs.length) this.grow();
          this.revs[this.n] = rev;
          this.times[this.n++] = clock();
          this.lastRev = rev;
        },
      });
      (async () => {
        const res = await fetch(`${baseUrl}/v1/stores/${storeId}/events`, { headers: { accept: 'text/event-stream' }, signal: this.abort.signal });
        if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
        const decoder = new TextDecoder();
        const reader = res.body.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) parser.feed(decoder.decode(r.value, { stream: true }));
      })()
        .catch((err: unknown) => {
          if (!this.abort.signal.aborted) reject(err);
        })
        .finally(() => (this.ended = true));
    });
  }

  private grow(): void {
    const revs = new Float64Array(this.revs.length * 2 || 1024);
    const times = new Float64Array(revs.length);
    revs.set(this.revs);
    times.set(this.times);
    this.revs = revs;
    this.times = times;
  }

  close(): void {
    this.abort.abort();
  }
}

let feeds: Feed[] = [];

async function collect(firstRev: number, acks: number[], timeoutMs: number) {
  const lastRev = firstRev + acks.length - 1;
  const deadline = Date.now() + timeoutMs;
  while (feeds.some((f) => f.lastRev < lastRev && !f.ended) && Date.now() < deadline) await sleep(20);
  const latencies = new Float64Array(feeds.length * acks.length);
  let k = 0;
  let missing = 0;
  let late = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let disconnected = 0;
  let lastArrival = 0;
  for (const f of feeds) {
    if (f.ended) disconnected++;
    const seen = new Uint8Array(acks.length);
    let prev = 0;
    for (let i = 0; i < f.n; i++) {
      const rev = f.revs[i]!;
      if (rev <= prev) outOfOrder++;
      prev = rev;
      const j = rev - firstRev;
      if (j < 0 || j >= acks.length) continue;
      if (seen[j]) duplicates++;
      seen[j] = 1;
      latencies[k++] = Math.max(0, f.times[i]! - acks[j]!);
      lastArrival = Math.max(lastArrival, f.times[i]!);
    }
    // A gap below the last rev seen is a miss; revs after it had not arrived by the deadline.
    const top = Math.min(acks.length - 1, f.lastRev - firstRev);
    for (let j = 0; j < acks.length; j++) if (!seen[j]) j <= top ? missing++ : late++;
    f.n = 0;
  }
  return { ...summarize(latencies.subarray(0, k)), missing, late, duplicates, outOfOrder, disconnected, lastArrival };
}

serveCommands(async (msg: { cmd: 'open'; count: number; capacity: number } | { cmd: 'collect'; firstRev: number; acks: number[]; timeoutMs: number } | { cmd: 'close' }) => {
  if (msg.cmd === 'open') {
    // Opened in waves so the server's accept queue is not the thing measured; `open` adds to the feeds already open.
    for (let i = 0; i < msg.count; i += 200) {
      const wave = Array.from({ length: Math.min(200, msg.count - i) }, () => new Feed(msg.capacity));
      await Promise.all(wave.map((f) => f.ready));
      feeds.push(...wave);
    }
    return { open: feeds.length };
  }
  if (msg.cmd === 'collect') return collect(msg.firstRev, msg.acks, msg.timeoutMs);
  for (const f of feeds) f.close();
  feeds = [];
  return { closed: true };
});
