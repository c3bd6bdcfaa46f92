/**
 * One connection of the live feed: open `GET .../events`, apply put/delete
 * events through the rev guard, advance the checkpoint with every id
 * (heartbeat ids included), and report how the connection ended. Reconnection
 * policy lives in the caller (sync-client.ts).
 */
import { isRetryable, parseRetryAfter } from './backoff.js';
import { ProblemError } from './errors.js';
import { EVENTS, HEADERS, problemKind } from '@keysync/protocol';
import type { LocalRecord } from './local-store.js';
import { fromWire, lazyRecord } from './records.js';
import { readSse, StalledError, type SseItem } from './sse.js';
import { isTransient, linkedController, type SyncContext } from './sync-context.js';
import type { ReadyEventData } from '@keysync/protocol';
import { parseLiveEvent, readJsonTextEntry } from './wire.js';

/** How a connection ended. `eof`: closed without a reason, reconnect. */
export type FeedEnd = 'eof' | 'reset' | 'store-deleted' | 'revoked';

/** A failure worth a reconnect (network, 5xx, 429...), with the server's wait hint. */
export class FeedInterrupted extends Error {
  override name = 'FeedInterrupted';
  constructor(
    override readonly cause: unknown,
    readonly retryAfterMs?: number,
  ) {
    super('live feed interrupted', { cause });
  }
}

export interface FeedHooks {
  /** `event: ready`: backlog sent, now live. */
  ready(data: ReadyEventData): void;
  /** The server's `retry:` field, in ms. */
  retry(ms: number): void;
}

export interface FeedPosition {
  /** The durable checkpoint; moved by this function as events apply. */
  checkpoint: number;
  /** The id sent as Last-Event-ID on reconnect: the last id seen and persisted. */
  lastEventId: string | undefined;
}

export interface FeedWatch {
  /** How long the connection may stay silent (response headers, then bytes) before it is taken for dead. */
  deadAfterMs(): number;
  /** Aborting it cuts this connection so the caller reconnects at once (browser `online`, page shown again). */
  interrupt?: AbortSignal | undefined;
}

/**
 * Runs one connection until it ends. Throws FeedInterrupted for failures a
 * reconnect may cure (a silent connection included: StalledError),
 * ProblemError/ProtocolError/store errors for the rest.
 */
export async function runLiveFeed(ctx: SyncContext, pos: FeedPosition, hooks: FeedHooks, watch: FeedWatch): Promise<FeedEnd> {
  const conn = linkedController(ctx.signal);
  const { interrupt } = watch;
  const cut = () => conn.abort(interrupt?.reason);
  if (interrupt?.aborted) cut();
  interrupt?.addEventListener('abort', cut, { once: true });
  let end: FeedEnd = 'eof';
  let fatal: unknown;

  const onItem = async (item: SseItem): Promise<void> => {
    try {
      const stop = await handle(ctx, pos, hooks, item);
      if (stop) {
        end = stop;
        conn.abort(); // the server closes after these; don't wait for it
      }
    } catch (error) {
      // Errors of our own making (bad event, store failure) must not look
      // like a dropped connection, or we would reconnect forever.
      fatal = error;
      conn.abort();
    }
  };

  try {
    // A request that a dead network swallows never answers: bound the wait for the headers too.
    const headersWithin = watch.deadAfterMs();
    const noHeaders = setTimeout(() => conn.abort(new StalledError(headersWithin)), headersWithin);
    const res = await ctx.api
      .events(ctx.storeId, { since: pos.checkpoint, prefix: ctx.prefix, lastEventId: pos.lastEventId, signal: conn.signal })
      .finally(() => clearTimeout(noHeaders));
    if (res.error) {
      if (isRetryable(res.error.status, problemKind(res.error.type))) {
        const wait = parseRetryAfter(res.response.headers.get(HEADERS.retryAfter));
        throw new FeedInterrupted(new ProblemError(res.error, 'live feed'), wait);
      }
      throw new ProblemError(res.error, 'live feed');
    }
    await readSse(res.data, onItem, { signal: conn.signal, lastEventId: pos.lastEventId, idleMs: watch.deadAfterMs });
    return end;
  } catch (error) {
    if (fatal !== undefined) throw fatal;
    if (end !== 'eof') return end; // we aborted on purpose
    if (error instanceof FeedInterrupted || !isTransient(error, ctx.signal)) throw error;
    throw new FeedInterrupted(error);
  } finally {
    interrupt?.removeEventListener('abort', cut);
    conn.abort();
  }
}

async function handle(ctx: SyncContext, pos: FeedPosition, hooks: FeedHooks, item: SseItem): Promise<FeedEnd | undefined> {
  switch (item.kind) {
    case 'comment':
      return undefined;
    case 'retry':
      hooks.retry(item.ms);
      return undefined;
    case 'id':
      // Heartbeat: nothing matched our filter up to this rev, so the
      // checkpoint may move there.
      await advance(ctx, pos, item.lastEventId);
      return undefined;
    case 'event':
      break;
  }
  const id = item.lastEventId || undefined;
  // A put's value stays text for a store that takes it so, as in batches (FileStore writes it as sent).
  const text = item.event === EVENTS.put && ctx.store.lazyValues ? readJsonTextEntry(item.data) : undefined;
  if (text) return applyLive(ctx, pos, id, lazyRecord(text, ctx.api.parseValue));
  const event = parseLiveEvent(item.event, item.data, id, ctx.api.parseValue);
  switch (event?.type) {
    case undefined:
      return undefined;
    case 'put':
    case 'delete':
      return applyLive(ctx, pos, event.id, fromWire(event.entry));
    case 'ready':
      hooks.ready(event.data);
      return undefined;
    case 'reset':
    case 'store-deleted':
    case 'revoked':
      return event.type;
  }
}

/** Applies an event's record, moving the checkpoint to its rev or its id, whichever is higher. */
async function applyLive(ctx: SyncContext, pos: FeedPosition, id: string | undefined, record: LocalRecord): Promise<undefined> {
  const rev = id === undefined ? undefined : revOf(id);
  // Ids are revs; never let the checkpoint move backwards.
  const checkpoint = Math.max(pos.checkpoint, record.rev, rev ?? 0);
  ctx.emit(await ctx.store.applyBatch([record], { checkpoint }));
  pos.checkpoint = checkpoint;
  // What we send back is what is durable, not merely what we read.
  pos.lastEventId = String(checkpoint);
  return undefined;
}

async function advance(ctx: SyncContext, pos: FeedPosition, id: string): Promise<void> {
  const rev = revOf(id);
  if (rev === undefined || rev <= pos.checkpoint) return;
  await ctx.store.applyBatch([], { checkpoint: rev });
  pos.checkpoint = rev;
  pos.lastEventId = String(rev);
}

/** Ids of this feed are revs; anything else is ignored for the checkpoint. */
function revOf(id: string): number | undefined {
  if (!/^\d+$/.test(id)) return undefined;
  const rev = Number(id);
  return Number.isSafeInteger(rev) ? rev : undefined;
}
