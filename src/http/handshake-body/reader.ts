/**
 * Large handshake bodies are read off the event loop. Decoding, checking,
 * parsing and validating a `have` map of half a million keys takes seconds
 * of CPU in one piece (JSON.parse cannot be cut up), during which no other
 * request would be answered. A body over OFF_LOOP_BYTES goes to a worker
 * thread instead (input.ts, the same checks and answers), which
 * sends the `have` entries back in slices as it reads them: the event loop
 * builds the map a slice per turn while the worker reads on. Smaller bodies
 * take the usual route (json-body.ts): a thread hop costs more than their
 * parse.
 *
 * One worker serves every handshake, one body at a time: the parse is
 * CPU-bound, and memory for bodies waiting is already bounded by
 * KEYSYNC_HANDSHAKE_BYTES (budget.ts).
 */
import { Worker } from 'node:worker_threads';
import type { MiddlewareHandler } from 'hono';
import type { AppContext, AppEnv } from '../app-env.js';
import { assertJsonType } from '../request.js';
import { haveMicros } from './have-ts.js';
import { joinBlocks, problemError, type BodyBlocks, type HandshakeInput, type HandshakeInputOptions, type HaveEntries } from './input.js';

/** Bodies larger than this are read on the worker thread. */
export const OFF_LOOP_BYTES = 256 * 1024;

/**
 * Reads the handshake body: small ones with `small` (the route's jsonBody),
 * large ones on the worker. Either way the route's validator then finds the
 * body in hono's cache; a large body's `have` map is left in `c.var.parsedHave` for `haveOf`.
 */
export function handshakeJson(small: MiddlewareHandler<AppEnv>, options: HandshakeInputOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    assertJsonType(c);
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) <= OFF_LOOP_BYTES) return small(c, next);
      // A worker not yet running starts while the body arrives.
      parser();
    }
    const body = await readBlocks(c.req.raw);
    if (body.length <= OFF_LOOP_BYTES) {
      (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(joinBlocks(body).buffer as ArrayBuffer);
      return small(c, next);
    }
    const { input, have } = await readOffLoop(body, options);
    if (!input.ok) throw problemError(input.problem);
    // The validator parses this small text (its `have` is empty); the map is here.
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(input.body);
    if (input.have) c.set('parsedHave', have);
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

/** The validated body's `have` map as key -> micros (have-ts.ts), keys under `prefix` only. */
export function haveOf(c: AppContext, have: Record<string, string>, prefix: string | undefined, maxKeys: number): Map<string, number> {
  return c.get('parsedHave') ?? haveMicros(have, prefix, maxKeys);
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Adds a slice of entries to `map` (a slice is small enough for one turn of the event loop). */
function addEntries(map: Map<string, number>, { keys, lengths, micros }: HaveEntries): void {
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    const end = at + lengths[i]!;
    map.set(keys.slice(at, end), micros[i]!);
    at = end;
  }
}

/** A body read off the loop, with its `have` map built as the slices came in. */
interface OffLoopResult {
  input: HandshakeInput;
  have: Map<string, number>;
}

interface Pending {
  have: Map<string, number>;
  /** the slices received so far, each added in a turn of its own (messages can arrive in bursts) */
  added: Promise<void>;
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
    pending.set(id, { have: new Map(), added: Promise.resolve(), resolve, reject });
    worker.ref();
    worker.postMessage({ id, body, options }, body.blocks);
  });
}

function parser(): Worker {
  if (worker) return worker;
  const started = startWorker();
  started.on('message', (m: { id: number; slice?: HaveEntries; input?: HandshakeInput; error?: string }) => {
    const job = pending.get(m.id);
    if (!job) return;
    const { slice, input } = m;
    if (slice) {
      job.added = job.added.then(() => nextTurn()).then(() => addEntries(job.have, slice));
      return;
    }
    pending.delete(m.id);
    if (pending.size === 0) started.unref();
    if (!input) return job.reject(new Error(`handshake parse failed: ${m.error}`));
    if (input.ok && input.have) job.added = job.added.then(() => nextTurn()).then(() => addEntries(job.have, input.have!));
    void job.added.then(() => job.resolve({ input, have: job.have }));
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
