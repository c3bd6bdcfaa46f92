/**
 * Workload 3: one writer at a steady rate, S subscribers in another process.
 * Latency runs from the moment the writer has a write's 2xx to the moment a
 * subscriber has its event (both on the machine's clock); every subscriber
 * must see every rev exactly once, in order.
 */
import { startChild, type Child } from '../lib/child.js';
import { fmt, type BenchContext } from '../lib/context.js';
import { bulkWrite, createStore, putKey, type WriteResult } from '../lib/http.js';
import { measured } from '../lib/proc.js';
import { clock, sleep } from '../lib/stats.js';

const RATE = 500; // events per second
const PAD = 'x'.repeat(80); // ~120-byte values

interface Collected {
  p50: number;
  p99: number;
  max: number;
  n: number;
  missing: number;
  late: number;
  duplicates: number;
  outOfOrder: number;
  disconnected: number;
  lastArrival: number;
}

export async function liveFanout(ctx: BenchContext, subscriberCounts: number[], seconds: number): Promise<void> {
  const server = await ctx.server();
  try {
    for (const s of subscriberCounts) {
      for (const perRequest of [1, 100]) {
        const storeId = await createStore(server.url, `live-${s}-${perRequest}`);
        const child = startChild('subscribers-child.ts', { baseUrl: server.url, storeId });
        try {
          await child.ask({ cmd: 'open', count: s, capacity: RATE * seconds + 1000 });
          await runCase(ctx, server.pid, child, server.url, storeId, s, perRequest, seconds);
          await child.ask({ cmd: 'close' });
        } finally {
          await child.stop();
        }
      }
    }
  } finally {
    await server.stop();
  }
}

async function runCase(ctx: BenchContext, pid: number, child: Child, url: string, storeId: string, s: number, perRequest: number, seconds: number) {
  const requests = Math.round((RATE * seconds) / perRequest);
  const interval = (1000 * perRequest) / RATE;
  const acks = new Map<number, number>();
  let errors = 0;
  let firstError = '';
  const write = async (i: number) => {
    const ts = clock();
    let results: WriteResult[];
    // A fresh key per write: the change log is compacted (a key rewritten before the feed read it
    // goes out once, at its latest rev), so only fresh keys make every rev a visible event.
    if (perRequest === 1) results = [await putKey(url, storeId, `live/${i}`, JSON.stringify({ t: ts, pad: PAD }))];
    else {
      const ops = Array.from({ length: perRequest }, (_, j) => ({ op: 'put', key: `live/${i * perRequest + j}`, value: { t: ts, pad: PAD } }));
      results = await bulkWrite(url, storeId, ops);
    }
    const at = clock();
    for (const r of results) acks.set(r.rev, at);
  };

  const childCpu = child.stats().cpuS;
  const { value: collected, cpuS } = await measured(pid, async () => {
    const started = clock();
    const inflight = new Set<Promise<void>>();
    for (let i = 0; i < requests; i++) {
      // Steady schedule: request i leaves at started + i * interval, whatever the previous ones do.
      const wait = started + i * interval - clock();
      if (wait > 1) await sleep(wait);
      const p = write(i).catch((err: Error) => {
        errors++;
        firstError ||= err.message.slice(0, 120);
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await Promise.all(inflight);
    const revs = [...acks.keys()].sort((a, b) => a - b);
    const firstRev = revs[0]!;
    const ackTimes = revs.map((r) => acks.get(r)!);
    if (revs.length !== revs[revs.length - 1]! - firstRev + 1) throw new Error('live: revs of the writes are not contiguous');
    const c = await child.ask<Collected>({ cmd: 'collect', firstRev, acks: ackTimes, timeoutMs: 30_000 });
    return { ...c, events: revs.length, elapsedS: (c.lastArrival - started) / 1000 };
  });

  const subscribersCpuS = child.stats().cpuS - childCpu;
  const delivered = collected.n;
  const perS = delivered / collected.elapsedS;
  const clean = collected.missing + collected.late + collected.duplicates + collected.outOfOrder + collected.disconnected + errors === 0;
  const goal =
    s >= 1000
      ? { text: 'p99 < 100 ms, none missed', ok: collected.p99 < 100 }
      : s >= 100
        ? { text: 'p50 < 5 ms, p99 < 25 ms, none missed', ok: collected.p50 < 5 && collected.p99 < 25 }
        : { text: 'none missed', ok: true };
  ctx.emit({
    workload: 'live fan-out',
    case: `${s} subscriber${s > 1 ? 's' : ''}, ${perRequest === 1 ? 'PUT' : 'bulk 100'} @ ${RATE}/s`,
    result:
      `p50 ${fmt.ms(collected.p50)}, p99 ${fmt.ms(collected.p99)}, max ${fmt.ms(collected.max)}; ${fmt.n(perS)} events/s delivered; ` +
      `server ${cpuS.toFixed(1)} CPU s, subscribers ${subscribersCpuS.toFixed(1)} CPU s; ` +
      (clean
        ? 'every subscriber got every event once, in order'
        : `missed ${collected.missing}, late ${collected.late}, dup ${collected.duplicates}, ` +
          `out of order ${collected.outOfOrder}, disconnected ${collected.disconnected}, write errors ${errors}${firstError ? ` (${firstError})` : ''}`),
    target: { goal: goal.text, ok: goal.ok && clean },
    metrics: {
      subscribers: s,
      perRequest,
      rate: RATE,
      seconds,
      writes: collected.events,
      delivered,
      eventsPerS: perS,
      serverCpuS: cpuS,
      subscribersCpuS,
      ...collected,
      writeErrors: errors,
    },
  });
}
