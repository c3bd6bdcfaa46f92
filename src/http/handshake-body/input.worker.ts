/**
 * Worker thread entry: reads handshake bodies (input.ts) sent by reader.ts,
 * one message per body, and answers under the same id:
 * the `have` entries in slices as they are read, then the result.
 */
import { parentPort } from 'node:worker_threads';
import { joinBlocks, readHandshakeInput, type BodyBlocks, type HandshakeInputOptions, type HaveEntries } from './input.js';

interface Job {
  id: number;
  body: BodyBlocks;
  options: HandshakeInputOptions;
}

/** Entries per message: the event loop adds each slice to its map in a few milliseconds. */
const SLICE = 8192;

const transferable = (entries: HaveEntries) => [entries.lengths.buffer as ArrayBuffer, entries.micros.buffer as ArrayBuffer];

parentPort!.on('message', ({ id, body, options }: Job) => {
  try {
    const emit = (slice: HaveEntries) => parentPort!.postMessage({ id, slice }, transferable(slice));
    const input = readHandshakeInput(joinBlocks(body), options, emit, SLICE);
    parentPort!.postMessage({ id, input }, input.ok && input.have ? transferable(input.have) : []);
  } catch (err) {
    parentPort!.postMessage({ id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
});
