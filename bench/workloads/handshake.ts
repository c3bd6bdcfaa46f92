/**
 * Workload 5: a client that holds every key up to date (100,000 keys)
 * handshakes with its `have` map; nothing is stale. Time (best and median of
 * three) and the server's peak RSS during the handshake. Target (#16): under
 * 0.3 s on PostgreSQL, 0.6 s on the embedded database (whose statements run
 * on the server's own thread).
 *
 * Two rows: the whole map in one request (any HTTP client), and the digest
 * handshake the TS client makes of it (docs/API.md, "Digests"): the
 * client's own work of folding the map and picking the listed keys is
 * timed too, from the map in memory to the handshake's answer. The server
 * keeps no fold (KEYSYNC_DIGEST_CACHE_BYTES=0), so each of the three folds
 * the store: a kept fold would answer the second and third.
 *
 * A third row: a wave of replicas asking for the store's digests at once
 * (as after an options change), each wave after a write (a new store state),
 * answered by that server and by one that shares folds (the default).
 */
import { differingBuckets, digestBucketCount } from '@keysync/protocol';
import { digestHandshake, foldHave, haveListsOfMap } from '../../clients/typescript/src/digest-have.js';
import { fmt, type BenchContext } from '../lib/context.js';
import { loadKeys } from '../lib/data.js';
import { createStore } from '../lib/http.js';
import { measured } from '../lib/proc.js';
import { median } from '../lib/stats.js';

export async function handshakeHave(ctx: BenchContext, n: number): Promise<void> {
  // Loaded by one server process; a fresh one serves the handshakes (its memory and profile are theirs alone).
  const loader = await ctx.server({ profile: false });
  let storeId: string;
  let body: string;
  let have: Record<string, string>;
  try {
    storeId = await createStore(loader.url, `handshake-${n}`);
    ({ have } = await loadKeys(loader.url, storeId, { prefix: 'h', n, bytes: 200 }));
    body = JSON.stringify({ have });
  } finally {
    await loader.stop();
  }
  await ctx.floor.settleLoad();
  ctx.mark();
  const server = await ctx.server({ env: { KEYSYNC_DIGEST_CACHE_BYTES: '0' } });
  let alone: number[];
  try {
    const times: number[] = [];
    let peak = 0;
    let before = 0;
    for (let i = 0; i < 3; i++) {
      const { value, peakMB, rssBeforeMB } = await measured(server.pid, async () => {
        const started = performance.now();
        const res = await fetch(`${server.url}/v1/stores/${storeId}/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const hs = (await res.json()) as { stale?: string[]; removed?: string[] };
        if (res.status !== 201 || hs.stale?.length !== 0 || hs.removed?.length !== 0)
          throw new Error(`handshake: ${res.status} ${JSON.stringify(hs).slice(0, 200)}`);
        return (performance.now() - started) / 1000;
      });
      times.push(value);
      peak = Math.max(peak, peakMB);
      before = before || rssBeforeMB;
    }
    const t = median(times);
    const goal = ctx.backend.kind === 'postgres' ? 0.3 : 0.6;
    ctx.emit({
      workload: 'handshake (have)',
      case: `${fmt.n(n)} up-to-date keys`,
      result: `${fmt.s(t)} (best ${fmt.s(Math.min(...times))}); request ${fmt.mb(body.length / 2 ** 20)}; server peak ${fmt.mb(peak)} (before ${fmt.mb(before)})`,
      target: { goal: `< ${goal} s`, ok: t < goal },
      metrics: { keys: n, seconds: t, best: Math.min(...times), requestBytes: body.length, serverPeakMB: peak, serverRssBeforeMB: before },
    });
    await digestHandshakes(ctx, server.url, storeId, have, n);
    alone = await digestWaves(server.url, storeId, n);
  } finally {
    await server.stop();
  }
  const sharing = await ctx.server({ profile: false });
  try {
    const shared = await digestWaves(sharing.url, storeId, n);
    ctx.emit({
      workload: 'handshake (digests)',
      case: `${WAVE} replicas at once, ${fmt.n(n)} keys`,
      result: `all answered in ${fmt.s(median(shared))} sharing folds (the default), ${fmt.s(median(alone))} each folding (median of ${shared.length} waves)`,
      versus: `${fmt.x(median(shared) / median(alone))} of the time`,
      metrics: { keys: n, replicas: WAVE, sharedSeconds: median(shared), aloneSeconds: median(alone) },
    });
  } finally {
    await sharing.stop();
  }
}

/** Replicas in a wave of digest requests. */
const WAVE = 20;

/** Seconds until WAVE requests for the store's digests, sent at once, are all answered; three waves, each after a write. */
async function digestWaves(url: string, storeId: string, n: number): Promise<number[]> {
  const buckets = digestBucketCount(n);
  const times: number[] = [];
  for (let wave = 0; wave < 3; wave++) {
    const put = await fetch(`${url}/v1/stores/${storeId}/keys/wave`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: String(wave) });
    if (!put.ok) throw new Error(`PUT: ${put.status}`);
    await put.arrayBuffer();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: WAVE }, async () => {
        const res = await fetch(`${url}/v1/stores/${storeId}/sync/digests`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ buckets }),
        });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`digests: ${res.status}`);
      }),
    );
    times.push((performance.now() - started) / 1000);
  }
  return times;
}

/**
 * The same up-to-date client by the TS client's digest handshake
 * (clients/typescript/src/digest-have.ts): ask for the store's digests, fold
 * the client's keys meanwhile, compare, POST the handshake.
 */
async function digestHandshakes(ctx: BenchContext, url: string, storeId: string, have: Record<string, string>, n: number): Promise<void> {
  const post = async (path: string, payload: unknown) => {
    const text = JSON.stringify(payload);
    const res = await fetch(`${url}/v1/stores/${storeId}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    const answer = await res.text();
    return { status: res.status, body: JSON.parse(answer) as any, bytes: text.length + answer.length };
  };
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const lists = haveListsOfMap(have);
    const buckets = digestBucketCount(lists.keys.length);
    const asked = post('/sync/digests', { buckets });
    await new Promise((resolve) => setImmediate(resolve));
    const folded = foldHave(lists, buckets);
    const digests = await asked;
    if (digests.status !== 200) throw new Error(`digests: ${digests.status} ${JSON.stringify(digests.body).slice(0, 200)}`);
    const differ = differingBuckets(folded.folder.words, Buffer.from(digests.body.digests, 'base64'));
    const hs = await post('/sync', digestHandshake(folded, { ...digests.body, differ }));
    if (hs.status !== 201 || hs.body.stale?.length !== 0 || hs.body.removed?.length !== 0)
      throw new Error(`handshake: ${hs.status} ${JSON.stringify(hs.body).slice(0, 200)}`);
    times.push((performance.now() - started) / 1000);
    bytes = digests.bytes + hs.bytes;
  }
  const t = median(times);
  const goal = ctx.backend.kind === 'postgres' ? 0.3 : 0.6;
  ctx.emit({
    workload: 'handshake (digests)',
    case: `${fmt.n(n)} up-to-date keys, TS client`,
    result: `${fmt.s(t)} (best ${fmt.s(Math.min(...times))}) for both requests, the client's folding included; ${fmt.mb(bytes / 2 ** 20)} on the wire (bodies)`,
    target: { goal: `< ${goal} s`, ok: t < goal },
    metrics: { keys: n, seconds: t, best: Math.min(...times), bodyBytes: bytes },
  });
}
