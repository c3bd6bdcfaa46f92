/**
 * Worker thread entry: reads handshake bodies (handshake-input.ts) sent by
 * handshake-parse.ts, one message per body, and answers with the result
 * under the same id.
 */
import { parentPort } from 'node:worker_threads';
import { joinBlocks, readHandshakeInput, type BodyBlocks, type HandshakeInputOptions } from './handshake-input.js';

interface Job {
  id: number;
  body: BodyBlocks;
  options: HandshakeInputOptions;
}

parentPort!.on('message', ({ id, body, options }: Job) => {
  try {
    const input = readHandshakeInput(joinBlocks(body), options);
    const transfer = input.ok && input.have ? [input.have.lengths.buffer as ArrayBuffer, input.have.micros.buffer as ArrayBuffer] : [];
    parentPort!.postMessage({ id, input }, transfer);
  } catch (err) {
    parentPort!.postMessage({ id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
});
