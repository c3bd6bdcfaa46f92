/**
 * Child process: S live subscribers, recording for each put or delete event
 * its rev and arrival time on the machine's shared clock. Commands: `open`
 * (resolves once every feed said `ready`), `collect` (waits for the last
 * rev, then latency from each write's 2xx, misses, duplicates), `close`.
 *
 * A thousand feeds share this process, so reading must cost far less than
 * the server's writing, or the bench measures itself: a plain socket (no
 * HTTP client) and a scan for the `event:` lines instead of a full SSE
 * parser. The scan relies on what the protocol guarantees: `data:` lines hold
 * minified JSON (no raw newline), and keysync writes `id:` right after
 * `event: put|delete`, and never splits a frame across HTTP chunks, so the
 * chunk-size lines between frames (`\r\n5c\r\n`) are skipped like the
 * response head.
 *
 * A chunk is only timestamped and queued where it arrives; the scan runs
 * after every socket that was ready in the same turn has been read (in
 * setImmediate). Scanned on arrival, the thousandth socket's chunk would be
 * stamped after the 999 scans before it: the bench's own parsing, not the
 * server, would show up as latency (bulk writes carry 100 events a chunk).
 */
import { connect, type Socket } from 'node:net';
import { childArgs, serveCommands } from '../lib/child-commands.js';
import { clock, sleep, summarize } from '../lib/stats.js';

const { baseUrl, storeId } = childArgs<{ baseUrl: string; storeId: string }>();
const url = new URL(`/v1/stores/${storeId}/events`, baseUrl);
const REQUEST = `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`;
const OK = Buffer.from('HTTP/1.1 200 ');

const EVENT = Buffer.from('\nevent: ');
const FRAME_END = Buffer.from('\n\n');

// Chunks read this turn, scanned together once every ready socket has been read.
const arrived: Array<{ feed: Feed; chunk: Buffer; at: number }> = [];
let scanning = false;
function scanArrived(): void {
  scanning = false;
  for (const { feed, chunk, at } of arrived.splice(0)) feed.received(chunk, at);
}

class Feed {
  revs: Float64Array;
  times: Float64Array;
  n = 0;
  lastRev = 0;
  ready: Promise<void>;
  ended = false;
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  private socket: Socket | undefined;
  private closing = false;
  private checked = false;
  /** the unfinished frame of the previous chunk, with a leading newline so every event line follows one */
  private carry = Buffer.from('\n');

  constructor(capacity: number) {
    this.revs = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
      const socket = connect(Number(url.port), url.hostname, () => socket.write(REQUEST));
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        arrived.push({ feed: this, chunk, at: clock() });
        if (!scanning) {
          scanning = true;
          setImmediate(scanArrived);
        }
      });
      socket.on('close', () => (this.ended = true));
      socket.on('error', (err) => {
        this.ended = true;
        if (!this.closing) reject(err);
      });
      this.socket = socket;
    });
    this.ready.catch(() => {});
  }

  received(chunk: Buffer, at: number): void {
    if (!this.checked) {
      this.checked = true;
      if (!chunk.subarray(0, OK.length).equals(OK)) {
        this.rejectReady(new Error(`events: ${chunk.toString('latin1', 0, 40)}`));
        return;
      }
    }
    if (this.scan(chunk, at)) this.resolveReady();
  }

  /** Records the put and delete events of the complete frames so far; true when `ready` was among them. */
  private scan(chunk: Buffer, at: number): boolean {
    const buf = Buffer.concat([this.carry, chunk]);
    const end = buf.lastIndexOf(FRAME_END);
    if (end < 0) {
      this.carry = buf;
      return false;
    }
    let ready = false;
    for (let i = buf.indexOf(EVENT); i >= 0 && i < end; i = buf.indexOf(EVENT, i + EVENT.length)) {
      const name = i + EVENT.length;
      const nameEnd = buf.indexOf(10, name);
      const event = buf.toString('latin1', name, nameEnd);
      if (event === 'ready') ready = true;
      if (event !== 'put' && event !== 'delete') continue;
      // `id: <rev>` follows on the next line.
      const idEnd = buf.indexOf(10, nameEnd + 1);
      const rev = Number(buf.toString('latin1', nameEnd + 5, idEnd));
      if (this.n === this.revs.length) this.grow();
      this.revs[this.n] = rev;
      this.times[this.n++] = at;
      this.lastRev = rev;
    }
    // Keep from the last frame's closing newline: the rest starts with "\n", like every event line.
    this.carry = buf.subarray(end + 1);
    return ready;
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
    this.closing = true;
    this.socket?.destroy();
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

serveCommands(
  async (
    msg: { cmd: 'open'; count: number; capacity: number } | { cmd: 'collect'; firstRev: number; acks: number[]; timeoutMs: number } | { cmd: 'close' },
  ) => {
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
  },
);
