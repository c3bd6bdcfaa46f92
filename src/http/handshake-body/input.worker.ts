/**
 * Worker thread entry: reads handshake bodies (input.ts) sent by reader.ts,
 * one message per body, and answers under the same id.
 */
import { parentPort } from 'node:worker_threads';
import { joinBlocks, readHandshakeInput, type BodyBlocks, type HandshakeInputOptions } from './input.js';

interface Job {
  id: number;
  body: BodyBlocks;
  options: HandshakeInputOptions;
}

parentPort!.on('message', async ({ id, body, options }: Job) => {
  try {
    const input = await readHandshakeInput(joinBlocks(body), options);
    const have = input.ok ? input.have : undefined;
    const transfer = have ? [have.keyEnds.buffer, have.microsEnds.buffer, have.micros.buffer] : [];
    parentPort!.postMessage({ id, input }, transfer as ArrayBuffer[]);
  } catch (err) {
    parentPort!.postMessage({ id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
});
