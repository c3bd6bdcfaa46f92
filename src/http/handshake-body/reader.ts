/**
 * Large handshake bodies are read off the event loop. Decoding, checking,
 * parsing and validating a `have` map of half a million keys takes seconds
 * of CPU in one piece (JSON.parse cannot be cut up), during which no other
 * request would be answered. A body over OFF_LOOP_BYTES goes to a worker
 * thread instead (input.ts, the same checks and answers), which
 * also sorts the `have` map (src/sync/have-list.ts) and sends it back in one piece
 * that needs no work per key on the event loop. Smaller bodies take the
 * usual route (json-body.ts): a thread hop costs more than their parse.
 *
 * One worker serves every handshake, one body at a time: the parse is
 * CPU-bound, and memory for bodies waiting is already bounded by
 * KEYSYNC_HANDSHAKE_BYTES (budget.ts).
 */
import { Worker } from 'node:worker_threads';
import type { MiddlewareHandler } from 'hono';
import { HaveList } from '../../sync/have-list.js';
import type { AppContext, AppEnv } from '../app-env.js';
import { assertJsonType } from '../request.js';
import { forEachHaveTs } from './have-ts.js';
import { joinBlocks, problemError, type BodyBlocks, type HandshakeInput, type HandshakeInputOptions } from './input.js';

/** Bodies larger than this are read on the worker thread. */
export const OFF_LOOP_BYTES = 256 * 1024;

/**
 * Reads the handshake body: small ones with `small` (the route's jsonBody),
 * large ones on the worker. Either way the route's validator then finds the
 * body in hono's cache; a large body's `have` list is left in `c.var.parsedHave` for `haveOf`.
 */
export function handshakeJson(small: MiddlewareHandler<AppEnv>, options: HandshakeInputOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    assertJsonType(c);
    // The first handshake starts the worker, so that a large body finds it running.
    parser();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined && Number(length) <= OFF_LOOP_BYTES) return small(c, next);
    const body = await readBlocks(c.req.raw);
    if (body.length <= OFF_LOOP_BYTES) {
      (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(joinBlocks(body).buffer as ArrayBuffer);
      return small(c, next);
    }
    const { input, have } = await readOffLoop(body, options);
    if (!input.ok) throw problemError(input.problem);
    // The validator parses this small text (its `have` is empty); the map is here.
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(input.body);
    if (have) c.set('parsedHave', have);
    return next();
  };
}

/**
 * A body as it arrives, copied chunk by chunk into blocks of BLOCK_BYTES:
 * no copy of the whole body in one piece on the event loop, and blocks that
 * are this module's own to transfer to the worker.
 */
async function readBlocks(request: Request): Promise<BodyBlocks> {
  const blocks: Uint8Array[] = [];
  let length = 0;
  let block = new Uint8Array(0);
  let used = 0;
  if (request.body) {
    for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
      length += chunk.byteLength;
      for (let at = 0; at < chunk.byteLength; ) {
        if (used === block.byteLength) {
          block = new Uint8Array(BLOCK_BYTES);
          blocks.push(block);
          used = 0;
        }
        const n = Math.min(block.byteLength - used, chunk.byteLength - at);
        block.set(chunk.subarray(at, at + n), used);
        used += n;
        at += n;
      }
    }
  }
  return { blocks: blocks.map((b) => b.buffer as ArrayBuffer), length };
}

const BLOCK_BYTES = 1024 * 1024;

/** The validated body's `have` map as a sorted list (src/sync/have-list.ts), keys under `prefix` only. */
export function haveOf(c: AppContext, have: Record<string, string>, prefix: string | undefined, maxKeys: number): HaveList {
  const parsed = c.get('parsedHave');
  if (parsed) return parsed;
  const entries: Array<[string, number]> = [];
  forEachHaveTs(have, prefix, maxKeys, (key, micros) => entries.push([key, micros]));
  return HaveList.of(entries);
}

/** A body read off the loop, with its `have` list. */
interface OffLoopResult {
  input: HandshakeInput;
  have: HaveList | undefined;
}

interface Pending {
  resolve(result: OffLoopResult): void;
  reject(err: Error): void;
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

/** The body's blocks go to the worker (transferred, not copied). */
function readOffLoop(body: BodyBlocks, options: HandshakeInputOptions): Promise<OffLoopResult> {
  const id = nextId++;
  return new Promise<OffLoopResult>((resolve, reject) => {
    const worker = parser();
    pending.set(id, { resolve, reject });
    worker.ref();
    worker.postMessage({ id, body, options }, body.blocks);
  });
}

function parser(): Worker {
  if (worker) return worker;
  const started = startWorker();
  started.on('message', (m: { id: number; input?: HandshakeInput; error?: string }) => {
    const job = pending.get(m.id);
    if (!job) return;
    const { input } = m;
    pending.delete(m.id);
    if (pending.size === 0) started.unref();
    if (!input) return job.reject(new Error(`handshake parse failed: ${m.error}`));
    job.resolve({ input, have: input.ok && input.have ? new HaveList(input.have) : undefined });
  });
  // A worker that dies (out of memory) fails the bodies it held; the next body starts a new one.
  const fail = (err: Error) => {
    if (worker !== started) return;
    worker = undefined;
    for (const job of pending.values()) job.reject(err);
    pending.clear();
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`the handshake parse worker exited (${code})`)));
  // Held only while it has work (readOffLoop): idle, it must not keep a stopping process alive.
  started.unref();
  return (worker = started);
}

/**
 * The compiled worker next to this module; from TypeScript sources (tests,
 * `npm run dev`) the worker registers tsx first, as the main thread did.
 */
function startWorker(): Worker {
  const source = import.meta.url.endsWith('.ts');
  const entry = new URL(source ? './input.worker.ts' : './input.worker.js', import.meta.url);
  if (!source) return new Worker(entry);
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true });
}
