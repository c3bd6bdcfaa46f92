/**
 * The handshake response, streamed: its `stale` list is read back from the
 * session's chunks a page at a time, so a million stale keys pass through
 * the server without being held. Field order is the contract's.
 *
 * If the chunks go away mid-stream (the session was cancelled or finished
 * by a very quick client) or the database fails, the stream errors and the
 * response is cut short: the client sees a broken body, never a wrong list.
 */
import { and, asc, eq, gte } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { syncChunks } from '../db/schema.js';
import type { HandshakeResult } from './handshake.js';

/** Chunks per read (a chunk holds up to KEYSYNC_MAX_BATCH_SIZE keys). */
const CHUNKS_PER_READ = 50;

/** Removed keys per piece of the response. */
const REMOVED_PER_PULL = 10_000;

export function handshakeBody(db: Db, result: HandshakeResult): ReadableStream<Uint8Array> {
  const { sessionId, chunks, removed, headRev, batchSize, batches, window, expiresAt } = result;
  const encoder = new TextEncoder();
  let cursor = -1; // -1: the head is not sent yet
  let removedAt = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (cursor < 0) {
        controller.enqueue(encoder.encode(`{"sessionId":${JSON.stringify(sessionId)},"stale":[`));
        cursor = 0;
      } else if (cursor < batches) {
        // Kept by the handshake when few, else read back a page at a time.
        const page = chunks ?? (await readChunks(db, result.storeId, sessionId, cursor));
        controller.enqueue(encoder.encode((cursor > 0 ? ',' : '') + page.map((keys) => keys.map((k) => JSON.stringify(k)).join(',')).join(',')));
        cursor += page.length;
      } else if (removedAt < removed.length || removedAt === 0) {
        // `removed` can hold every key of a large `have` map: a slice per pull, each its own turn.
        if (removedAt > 0) await new Promise((resolve) => setImmediate(resolve));
        const slice = removed.slice(removedAt, removedAt + REMOVED_PER_PULL);
        const list = slice.map((k) => JSON.stringify(k)).join(',');
        controller.enqueue(encoder.encode(removedAt === 0 ? `],"removed":[${list}` : `,${list}`));
        removedAt += REMOVED_PER_PULL;
      } else {
        const tail = JSON.stringify({ headRev, batchSize, batches, window, expiresAt });
        controller.enqueue(encoder.encode(`],${tail.slice(1)}`));
        controller.close();
      }
    },
  });
}

/** The key lists of consecutive chunks from `cursor` on (at least one, or it throws). */
async function readChunks(db: Db, storeId: string, sessionId: string, cursor: number): Promise<string[][]> {
  const rows = await db
    .select({ cursor: syncChunks.cursor, keys: syncChunks.keys })
    .from(syncChunks)
    .where(and(eq(syncChunks.storeId, storeId), eq(syncChunks.sessionId, sessionId), gte(syncChunks.cursor, cursor)))
    .orderBy(asc(syncChunks.cursor))
    .limit(CHUNKS_PER_READ);
  const page: string[][] = [];
  for (const row of rows) {
    if (row.cursor !== cursor + page.length) break;
    page.push(row.keys);
  }
  // Fewer or other chunks than the session has: they were released or dropped meanwhile.
  if (page.length === 0) throw new Error(`sync session ${sessionId}: its chunks went away while the handshake was being sent`);
  return page;
}
