/**
 * Should live SSE frames be compressed? A feed can only be compressed with a
 * flush after every event (each must reach the subscriber when it happens),
 * so this measures exactly that: the server's own frames of ~1 KiB puts, one
 * compression stream per feed flushed after each event, as bytes per event
 * against identity and as the server's CPU per event and subscriber (a
 * compressed feed cannot share one encoded frame between subscribers: each
 * feed's stream has its own history). In process, no server: the question is
 * the codec's, not the network's.
 */
import { brotliCompressSync, constants, createBrotliCompress, createGzip, type BrotliCompress, type Gzip } from 'node:zlib';
import { rowFrame } from '../../src/live/frames.js';
import type { EntryRow } from '../../src/store/reads.js';
import { nowMicros } from '../../src/store/time.js';
import { fmt, type BenchContext } from '../lib/context.js';
import { randomValueOf, valueOf } from '../lib/data.js';

const EVENTS = 2000;

type Codec = { label: string; make(): Gzip | BrotliCompress; flush(s: Gzip | BrotliCompress): Promise<Buffer> };

const flushed = (stream: Gzip | BrotliCompress, kind: number) =>
  new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    stream.on('data', onData);
    stream.flush(kind, () => {
      stream.off('data', onData);
      resolve(Buffer.concat(chunks));
    });
  });

const CODECS: Codec[] = [
  { label: 'gzip 1', make: () => createGzip({ level: 1 }), flush: (s) => flushed(s, constants.Z_SYNC_FLUSH) },
  {
    label: 'br 1',
    make: () => createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }),
    flush: (s) => flushed(s, constants.BROTLI_OPERATION_FLUSH),
  },
];

function frames(value: (i: number) => Record<string, unknown>): string[] {
  const ts = nowMicros();
  return Array.from({ length: EVENTS }, (_, i) => {
    const row: EntryRow = { key: `doc/${i}`, rev: i + 1, tsUs: ts + i, deleted: false, json: JSON.stringify(value(i)), bytes: null, contentType: null };
    return rowFrame(row).frame;
  });
}

export async function liveCompression(ctx: BenchContext): Promise<void> {
  for (const [kind, value] of Object.entries({ words: (i: number) => valueOf(i), random: randomValueOf })) {
    const texts = frames(value);
    const identity = texts.reduce((n, t) => n + Buffer.byteLength(t), 0) / EVENTS;
    // What compressing the whole feed at once would give: the bound per-event flushes cannot reach.
    const whole = brotliCompressSync(texts.join('')).length / EVENTS;
    for (const codec of CODECS) {
      const stream = codec.make();
      let bytes = 0;
      const cpu = process.cpuUsage();
      for (const text of texts) {
        stream.write(text);
        bytes += (await codec.flush(stream)).length;
      }
      const used = process.cpuUsage(cpu);
      stream.destroy();
      const perEvent = bytes / EVENTS;
      const cpuUs = (used.user + used.system) / EVENTS;
      ctx.emit({
        workload: 'live frames, compressed',
        case: `${kind} values, ${codec.label}, flush per event`,
        result: `${fmt.n(perEvent)} B/event (identity ${fmt.n(identity)}, whole feed at once ${fmt.n(whole)}); ${cpuUs.toFixed(0)} µs CPU per event and subscriber`,
        versus: `${(perEvent / identity).toFixed(2)}x the identity bytes`,
        metrics: { kind, codec: codec.label, bytesPerEvent: perEvent, identityBytesPerEvent: identity, wholeFeedBytesPerEvent: whole, cpuUsPerEvent: cpuUs },
      });
    }
  }
}
