/**
 * The handshake response, streamed: its `stale` list is read back from the
 * session's chunks a page at a time, so a million stale keys pass through
 * the server without being held; a client that asked for no list
 * (`listStale: false`) costs no read of them. Field order is the contract's.
 *
 * If the chunks go away mid-stream (the session was cancelled or finished
 * by a very quick client) or the database fails, the stream errors and the
 * response is cut short: the client sees a broken body, never a wrong list.
 */
import type { Db } from '../db/client.js';
import { preparedDb } from '../db/prepared.js';
import type { HandshakeResult } from './handshake.js';

/** Chunks per read (a chunk holds up to KEYSYNC_MAX_BATCH_SIZE keys). */
const CHUNKS_PER_READ = 50;

const CHUNKS_FROM = `select cursor, array_to_json(keys)::text as keys from sync_chunks
  where store_id = $1::uuid and session_id = $2::uuid and cursor >= $3::int order by cursor limit $4::int`;

/** Removed keys per piece of the response. */
const REMOVED_PER_PULL = 10_000;

/**
 * The response; without `stale` (and no read of the chunks) when `listStale`
 * is false; with `batch` (an inline batch's body, sessions.ts deliverInline)
 * as its last member, where a client can cut it off without parsing its
 * values (docs/API.md, "Inline batch").
 */
export function handshakeBody(
  db: Db,
  result: HandshakeResult,
  { listStale = true, batch }: { listStale?: boolean; batch?: string | Uint8Array } = {},
): ReadableStream<Uint8Array> {
  const { sessionId, chunks, removed, headRev, batchSize, batches, window, expiresAt } = result;
  const encoder = new TextEncoder();
  let cursor = -1; // -1: the head is not sent yet
  let removedAt = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (cursor < 0) {
        controller.enqueue(encoder.encode(`{"sessionId":${JSON.stringify(sessionId)}${listStale ? ',"stale":[' : ''}`));
        cursor = listStale ? 0 : batches;
      } else if (cursor < batches) {
        // Kept by the handshake when few, else read back a page at a time, as JSON made by the database.
        const page = chunks ? chunks.map((keys) => keys.map((k) => JSON.stringify(k)).join(',')) : await readChunks(db, result.storeId, sessionId, cursor);
        controller.enqueue(encoder.encode((cursor > 0 ? ',' : '') + page.join(',')));
        cursor += page.length;
      } else if (removedAt < removed.length || removedAt === 0) {
        // `removed` can hold every key of a large `have` map: a slice per pull, each its own turn.
        if (removedAt > 0) await new Promise((resolve) => setImmediate(resolve));
        const slice = removed.slice(removedAt, removedAt + REMOVED_PER_PULL);
        const list = slice.map((k) => JSON.stringify(k)).join(',');
        controller.enqueue(encoder.encode(removedAt === 0 ? `${listStale ? ']' : ''},"removed":[${list}` : `,${list}`));
        removedAt += REMOVED_PER_PULL;
      } else {
        const tail = JSON.stringify({ headRev, batchSize, batches, window, expiresAt });
        if (batch === undefined) controller.enqueue(encoder.encode(`],${tail.slice(1)}`));
        else {
          controller.enqueue(encoder.encode(`],${tail.slice(1, -1)},"batch":`));
          controller.enqueue(typeof batch === 'string' ? encoder.encode(batch) : batch);
          controller.enqueue(encoder.encode('}'));
        }
        controller.close();
      }
    },
  });
}

/**
 * Consecutive chunks from `cursor` on (at least one, or it throws), each as
 * its keys' JSON without the brackets. array_to_json escapes as
 * JSON.stringify does (entry-sql.ts relies on the same for keys).
 */
async function readChunks(db: Db, storeId: string, sessionId: string, cursor: number): Promise<string[]> {
  const rows = await preparedDb(db).query<{ cursor: number; keys: string }>(CHUNKS_FROM, [storeId, sessionId, cursor, CHUNKS_PER_READ]);
  const page: string[] = [];
  for (const row of rows) {
    if (row.cursor !== cursor + page.length) break;
    page.push(row.keys.slice(1, -1));
  }
  // Fewer or other chunks than the session has: they were released or dropped meanwhile.
  if (page.length === 0) throw new Error(`sync session ${sessionId}: its chunks went away while the handshake was being sent`);
  return page;
}
