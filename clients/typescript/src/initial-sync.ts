/**
 * The initial sync: handshake, removed keys, then batches and acks until the
 * session completes, then the checkpoint moves to the handshake's headRev.
 *
 * Ordering that matters (an ack sent before the data is stored would mean
 * nothing after a crash): a batch is applied to the local store, which
 * resolves only once it is durable, THEN its listeners fire, THEN it is
 * acked. The checkpoint moves only after the last batch, so a crash anywhere
 * resumes from the old checkpoint and the rev guard turns re-sent entries
 * into no-ops.
 */
import { sleep } from './backoff.js';
import { ProblemError, ProtocolError } from './errors.js';
import { PROBLEMS, problemKind } from '@keysync/protocol';
import { DIGESTS_FROM_KEYS, digestHave, haveJsonOfLists, haveListsOfMap } from './digest-have.js';
import type { HaveLists } from './local-store.js';
import { batchRecords, type BatchRecords } from './records.js';
import { linkedController, request, type SyncContext } from './sync-context.js';
import type { HandshakeRequest } from '@keysync/protocol';

/**
 * `auto`: `since` when the store has a checkpoint, else `have`; `have`: a
 * digest handshake when the store holds many keys (digest-have.ts), else
 * the whole map; `whole`: the whole map (after the server refused digests).
 */
export type HandshakeMode = 'auto' | 'have' | 'whole';

/**
 * Runs initial syncs until one completes; returns its headRev (now the
 * store's checkpoint). Throws ProblemError on failures that retrying cannot
 * cure (401, 403, 404, 400), and the abort reason on unsubscribe.
 */
export async function initialSync(ctx: SyncContext, mode: HandshakeMode): Promise<number> {
  for (;;) {
    const session = await handshake(ctx, mode);
    if (session === 'inline-refused') continue;
    if (session === 'since-refused' || session === 'digest-refused') {
      mode = session === 'since-refused' ? 'have' : 'whole';
      continue;
    }
    if ((await runSession(ctx, session)) === 'expired') continue;

    await ctx.store.applyBatch([], { checkpoint: session.headRev });
    return session.headRev;
  }
}

/** What a session needs of its handshake. */
interface Session {
  sessionId: string;
  headRev: number;
  batches: number;
  window: number;
  /** the session's one batch, when the response carried it: already acknowledged, nothing to fetch */
  inline: BatchRecords | undefined;
}

/**
 * One handshake, and the tombstones for its `removed` keys. Returns only what
 * the session needs: the request's `have` map and the response's key lists
 * can each hold every key of the store, and must not stay reachable while
 * the batches are applied. 'since-refused': the server cannot answer our
 * `since`; handshake again with `have`. 'digest-refused': nor our digest
 * handshake (its rev, or digests on this store); send the whole map.
 * 'inline-refused': the server does not know `inline`; handshake again
 * without it.
 */
async function handshake(ctx: SyncContext, mode: HandshakeMode): Promise<Session | 'since-refused' | 'digest-refused' | 'inline-refused'> {
  const checkpoint = await ctx.store.getCheckpoint();
  const useSince = mode === 'auto' && checkpoint !== undefined;
  // The stale list is not read here (progress counts batches): at 15 bytes a key, not asked for.
  // A sync of one batch comes inside the response (a reconnect in one round trip).
  const fields = {
    ...(ctx.prefix !== undefined && { prefix: ctx.prefix }),
    ...(ctx.batchSize !== undefined && { batchSize: ctx.batchSize }),
    listStale: false,
    ...(ctx.inline && { inline: true }),
  };
  let body: HandshakeRequest | string;
  let byDigest = false;
  if (useSince) body = { since: checkpoint, ...fields };
  else {
    let held: HaveLists | undefined;
    if (mode !== 'whole') held = ctx.store.haveLists ? await ctx.store.haveLists(ctx.prefix) : haveListsOfMap(await ctx.store.have(ctx.prefix));
    const digest = held && held.keys.length >= DIGESTS_FROM_KEYS ? await digestHave(ctx, held) : undefined;
    byDigest = digest !== undefined;
    if (digest) body = { ...digest, ...fields };
    // The whole map from the lists already read: a store is not read twice.
    else if (held) body = withHaveText(haveJsonOfLists(held), fields);
    else if (ctx.store.haveJson) body = withHaveText(await ctx.store.haveJson(ctx.prefix), fields);
    else body = { have: await ctx.store.have(ctx.prefix), ...fields };
  }

  const res = await request(ctx, (signal) => ctx.api.handshakeText(ctx.storeId, body, { signal }));
  if (res.error) {
    const kind = problemKind(res.error.type);
    if (res.error.status === 409 && (kind === PROBLEMS.sincePurged || kind === PROBLEMS.sinceAhead || kind === PROBLEMS.digestsUnusable)) {
      // since-ahead: the server lost revs we saw (restored from backup); its
      // next revs will repeat ours, so our revs must not veto them.
      if (kind === PROBLEMS.sinceAhead) await ctx.store.forgetRevisions();
      return byDigest ? 'digest-refused' : 'since-refused';
    }
    // A server older than the inline batch refuses the member as unknown: ask without it from now on.
    if (ctx.inline && res.error.status === 400 && res.error.errors?.some((e) => e.message.includes('"inline"'))) {
      ctx.inline = false;
      return 'inline-refused';
    }
    throw new ProblemError(res.error, 'handshake');
  }
  const { handshake: hs, batchText } = res.data;
  // Read before anything is applied: a batch that does not parse fails the sync with nothing half done.
  const inline = batchText === undefined ? undefined : batchRecords(batchText, ctx.store.lazyValues === true, ctx.api.parseValue);
  // A `have` handshake cannot be refused as since-ahead, so detect it here.
  if (!useSince && checkpoint !== undefined && checkpoint > hs.headRev) await ctx.store.forgetRevisions();

  ctx.emit(await ctx.store.remove(hs.removed, hs.headRev));
  return { sessionId: hs.sessionId, headRev: hs.headRev, batches: hs.batches, window: hs.window, inline };
}

/** A `have` handshake's body as text, around the map's JSON text as the store wrote it (LocalStore.haveJson). */
function withHaveText(haveJson: string, fields: object): string {
  const rest = JSON.stringify(fields).slice(1, -1);
  return `{"have":${haveJson}${rest && `,${rest}`}}`;
}

type Fetched = BatchRecords | 'expired';

/** Thrown inside the ack chain when the server says the session expired (410). */
const EXPIRED = Symbol('expired');

/**
 * Fetches up to `window` batches ahead of the oldest unacked one, applies and
 * acks them strictly in cursor order. 'expired' means handshake again.
 *
 * Acks are pipelined: once batch c is applied (durably) and its listeners
 * have fired, its ack is queued and batch c+1, if already fetched, is applied
 * while that ack is on the wire. A fetch starts only when the server has
 * confirmed enough acks for it to be inside the window, so the client never
 * provokes a 409 ack-required. With `window` 1 there is nothing to overlap
 * and the loop is fetch, apply, ack, as the contract's backpressure wants.
 */
async function runSession(ctx: SyncContext, hs: Session): Promise<'done' | 'expired'> {
  const total = hs.batches;
  ctx.progress(0, total);
  if (hs.inline) {
    if (hs.inline.cursor !== 0 || total !== 1) throw new ProtocolError(`an inline batch ${hs.inline.cursor} of a session of ${total} batches`);
    ctx.emit(await ctx.store.applyBatch(hs.inline.records));
    ctx.progress(1, total);
    return 'done';
  }
  if (total === 0) return 'done';
  const window = Math.max(1, hs.window);
  // Prefetches and acks still running when we return (expiry, error) are cut off here.
  const session = linkedController(ctx.signal);
  const signal = session.signal;
  const sub: SyncContext = { ...ctx, signal };
  const inflight = new Map<number, Promise<Fetched>>();
  let confirmed = 0; // batches [0, confirmed) are acknowledged by the server
  let next = 0; // the next cursor to fetch
  const startFetches = () => {
    // The contract: fetch a batch only while fewer than `window` earlier
    // batches are unacknowledged, i.e. cursor - acked < window.
    while (next < total && next - confirmed < window) {
      const p = fetchBatch(sub, hs.sessionId, next);
      p.catch(() => undefined); // awaited below; avoid "unhandled" if we bail out first
      inflight.set(next++, p);
    }
  };
  // Acks go out one after another (each covers all before it) and each
  // confirmation may open the window for the next fetches.
  let acks: Promise<void> = Promise.resolve();
  const ackOf = new Map<number, Promise<void>>();
  const queueAck = (cursor: number) => {
    acks = acks.then(async () => {
      const ack = await request(sub, (attempt) => ctx.api.ack(ctx.storeId, hs.sessionId, cursor, { signal: attempt }));
      if (ack.error) {
        if (ack.error.status === 410) throw EXPIRED;
        throw new ProblemError(ack.error, `ack of batch ${cursor}`);
      }
      confirmed = cursor + 1;
      ctx.progress(confirmed, total);
      startFetches();
    });
    acks.catch(() => undefined); // awaited below
    ackOf.set(cursor, acks);
  };
  try {
    for (let cursor = 0; cursor < total; cursor++) {
      startFetches();
      // Outside the window until the ack of cursor - window is confirmed
      // (not the later ones: they may wait on this batch's own apply).
      if (!inflight.has(cursor)) await ackOf.get(cursor - window);
      ackOf.delete(cursor - window);
      const batch = await inflight.get(cursor);
      inflight.delete(cursor);
      if (batch === undefined) throw new Error(`internal: batch ${cursor} was not fetched`);
      if (batch === 'expired') return 'expired';
      if (batch.cursor !== cursor) throw new ProtocolError(`asked for batch ${cursor}, got ${batch.cursor}`);

      ctx.emit(await ctx.store.applyBatch(batch.records));
      queueAck(cursor);
    }
    await acks;
    return 'done';
  } catch (error) {
    if (error === EXPIRED) return 'expired';
    throw error;
  } finally {
    session.abort();
    if (ctx.signal.aborted) {
      // Unsubscribed mid-session: free the server's session now rather than
      // at its timeout. Best effort, without the aborted signal.
      ctx.api.cancelSession(ctx.storeId, hs.sessionId).catch(() => undefined);
    }
  }
}

/**
 * One batch, retried; 409 ack-required waits (the server counts acks we may
 * not see yet). Its values stay text for a store that takes them so
 * (LocalStore.lazyValues), parsed when first read.
 */
async function fetchBatch(ctx: SyncContext, sessionId: string, cursor: number): Promise<Fetched> {
  let waits = 0;
  for (;;) {
    const res = await request(ctx, (signal) => ctx.api.batchText(ctx.storeId, sessionId, cursor, { signal }));
    if (!res.error) return batchRecords(res.data, ctx.store.lazyValues === true, ctx.api.parseValue);
    if (res.error.status === 410) return 'expired';
    if (res.error.status === 409 && problemKind(res.error.type) === PROBLEMS.ackRequired) {
      // Flow control, not a failure: our ack is on its way. Poll gently and
      // leave the shared backoff and the client state alone.
      await sleep(Math.min(1000, 25 * 2 ** waits++), ctx.signal);
      continue;
    }
    throw new ProblemError(res.error, `batch ${cursor}`);
  }
}
