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

export function handshakeBody(db: Db, result: HandshakeResult): ReadableStream<Uint8Array> {
  const { sessionId, batches, chunks, ...rest } = result;
  const encoder = new TextEncoder();
  let cursor = 0;
  let started = false;
  let first = true;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(`{"sessionId":${JSON.stringify(sessionId)},"stale":[`));
        return;
      }
      if (cursor < batches && chunks) {
        // Kept by the handshake: no read back.
        controller.enqueue(encoder.encode(chunks.map((keys) => keys.map((key) => JSON.stringify(key)).join(',')).join(',')));
        cursor = batches;
        return;
      }
      if (cursor < batches) {
        const rows = await db
          .select({ cursor: syncChunks.cursor, keys: syncChunks.keys })
          .from(syncChunks)
          .where(and(eq(syncChunks.sessionId, sessionId), gte(syncChunks.cursor, cursor)))
          .orderBy(asc(syncChunks.cursor))
          .limit(CHUNKS_PER_READ);
        // Fewer or other chunks than the session has: they were released or dropped meanwhile.
        if (rows.length === 0 || rows[0]!.cursor !== cursor) throw new Error(`sync session ${sessionId}: its chunks went away while the handshake was being sent`);
        let text = '';
        for (const row of rows) {
          if (row.cursor !== cursor) break;
          for (const key of row.keys) {
            text += first ? JSON.stringify(key) : `,${JSON.stringify(key)}`;
            first = false;
          }
          cursor++;
        }
        controller.enqueue(encoder.encode(text));
        return;
      }
      const tail = { removed: rest.removed, headRev: rest.headRev, batchSize: rest.batchSize, batches, window: rest.window, expiresAt: rest.expiresAt };
      controller.enqueue(encoder.encode(`],${JSON.stringify(tail).slice(1)}`));
      controller.close();
    },
  });
}
