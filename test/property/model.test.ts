/**
 * Model-based test of replication: random interleavings of writes (puts of
 * JSON and bytes, deletes, bulk writes), of 2-3 clients' handshakes, partial
 * batch fetches, acks, abandoned and expired sessions, live feeds with
 * reconnects, tombstone purges and server restarts, checked against a model
 * of the store kept from the write responses.
 *
 * Reproduce a failure with KEYSYNC_FC_SEED=<seed> (and KEYSYNC_FC_PATH=<path>
 * to replay the shrunk case directly); KEYSYNC_FC_RUNS raises the run count,
 * KEYSYNC_FC_TIME_LIMIT_MS the time after which fast-check stops (default 40 s;
 * a failure found by then is still reported, shrunk as far as it got).
 */
import fc from 'fast-check';
import { describe as group, expect, it } from 'vitest';
import { call, json, keyPath, newStore } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { describe, scenario, type BulkOp, type Cmd } from './commands.js';
import { SimClient } from './sim-client.js';
import { count, stats, type Ctx } from './sync-client.js';
import { StoreModel, tsMicros, type Written } from './store-model.js';

const TIMEOUT_MS = 200;
const WINDOW = 2;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
/** keys compare in code point order on the server (C collation) */
const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const env = useTestServer({
  limits: { batchTimeoutMs: TIMEOUT_MS, batchWindow: WINDOW, tombstoneRetentionMs: 0, heartbeatMs: 50 },
});

async function write(ctx: Ctx, written: Written, res: { status: number; body: any }): Promise<void> {
  expect(res.status, `write ${JSON.stringify(written.key)}: ${JSON.stringify(res.body)}`).toBe(200);
  ctx.model.record(written, res.body);
}

function bulkWire(op: BulkOp): { wire: unknown; written: Written } {
  if (op.op === 'delete') return { wire: op, written: { key: op.key, deleted: true } };
  if ('bytes' in op) {
    const written = { key: op.key, base64: b64(op.bytes), contentType: op.contentType };
    return { wire: { op: 'put', ...written }, written };
  }
  return { wire: op, written: { key: op.key, value: op.value } };
}

async function execute(ctx: Ctx, clients: SimClient[], cmd: Cmd): Promise<void> {
  const { model } = ctx;
  const path = (key: string) => keyPath(ctx.storeId, key);
  switch (cmd.t) {
    case 'put':
      return write(ctx, { key: cmd.key, value: cmd.value }, await call(env.server, path(cmd.key), json(cmd.value, { method: 'PUT' })));
    case 'putBytes': {
      const res = await call(env.server, path(cmd.key), { method: 'PUT', headers: { 'content-type': cmd.contentType }, body: new Uint8Array(cmd.bytes) });
      return write(ctx, { key: cmd.key, base64: b64(cmd.bytes), contentType: cmd.contentType }, res);
    }
    case 'del': {
      const res = await call(env.server, path(cmd.key), { method: 'DELETE' });
      if (model.isLive(cmd.key)) return write(ctx, { key: cmd.key, deleted: true }, res);
      expect(res.status, `delete of absent ${JSON.stringify(cmd.key)}`).toBe(404);
      return;
    }
    case 'bulk': {
      const ops = cmd.ops.map(bulkWire);
      const res = await call(env.server, `/v1/stores/${ctx.storeId}/writes`, json({ ops: ops.map((o) => o.wire) }));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.results).toHaveLength(ops.length);
      ops.forEach((o, i) => model.record(o.written, res.body.results[i]));
      return;
    }
    case 'burst': {
      // Single-key writes in parallel (a delete of an absent key is a 404 and writes nothing).
      const sent = cmd.ops.map(bulkWire);
      const opening = cmd.feedOpen === null ? undefined : clients[cmd.feedOpen % clients.length]!;
      await opening?.feedClose(); // then reconnect while the writes commit
      const [results] = await Promise.all([
        Promise.all(
          sent.map(({ written }) =>
            'deleted' in written
              ? call(env.server, path(written.key), { method: 'DELETE' })
              : 'base64' in written
                ? call(env.server, path(written.key), {
                    method: 'PUT',
                    headers: { 'content-type': written.contentType },
                    body: Buffer.from(written.base64, 'base64'),
                  })
                : call(env.server, path(written.key), json(written.value, { method: 'PUT' })),
          ),
        ),
        opening?.feedOpen(true),
      ]);
      const done = results.flatMap((res, i) => {
        const { written } = sent[i]!;
        if ('deleted' in written) {
          // Whether the key exists depends on the commit order only when another write of the burst touches it.
          const raced = sent.some((o, j) => j !== i && o.written.key === written.key);
          if (!raced) expect(res.status, `burst delete of ${JSON.stringify(written.key)}`).toBe(model.isLive(written.key) ? 200 : 404);
          if (res.status === 404) return [];
        }
        expect(res.status, `burst write ${i}: ${JSON.stringify(res.body)}`).toBe(200);
        return [{ written: sent[i]!.written, result: res.body }];
      });
      // Deletes of keys that only the burst itself created may or may not find them; the model takes the server's word, in rev order.
      for (const { written, result } of done.sort((a, b) => a.result.rev - b.result.rev)) model.record(written, result);
      return;
    }
    case 'get': {
      const res = await env.server.fetch(path(cmd.key));
      const entry = model.current.get(cmd.key);
      if (!entry || entry.deleted) {
        expect(res.status).toBe(404);
        await res.body?.cancel();
        return;
      }
      expect(res.status).toBe(200);
      expect([res.headers.get('etag'), res.headers.get('x-keysync-rev'), res.headers.get('x-keysync-ts')]).toEqual([
        `"${entry.rev}"`,
        String(entry.rev),
        entry.ts,
      ]);
      if (entry.base64 !== undefined) {
        expect(res.headers.get('content-type')).toBe(entry.contentType);
        expect(b64(new Uint8Array(await res.arrayBuffer()))).toBe(entry.base64);
      } else {
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.json()).toEqual(entry.value);
      }
      return;
    }
    case 'purge': {
      // Retention 0: once the clock is past the last write's ts, every tombstone is old enough.
      const lastMs = model.lastTs ? Math.floor(tsMicros(model.lastTs) / 1000) : 0;
      while (Date.now() <= lastMs) await sleep(1);
      const { purged } = await env.server.keysync.housekeeping();
      expect(purged).toBeGreaterThanOrEqual(model.tombstones().length);
      model.purgeAll();
      const listing = await call(env.server, `/v1/stores/${ctx.storeId}/keys?limit=1000`);
      const expected = [...model.current.values()]
        .sort((a, b) => byCodePoint(a.key, b.key))
        .map((e) => ({ key: e.key, rev: e.rev, ts: e.ts, ...(e.deleted ? { deleted: true } : {}) }));
      expect(listing.body, 'key listing after the purge').toEqual({ items: expected, next: null });
      return;
    }
    case 'restart':
      await env.server.restart();
      // restart() resolves before the old server's sockets are really closed (PGlite blocks the loop
      // while the new instance starts): let both ends see the close before undici reuses a socket.
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setImmediate(r));
        await sleep(2);
      }
      return;
  }
  const client = clients[cmd.c % clients.length]!;
  const s = client.session;
  switch (cmd.t) {
    case 'handshake':
      return client.handshake(cmd.mode, cmd.batchSize, cmd.inline);
    case 'sync':
      await client.handshake(cmd.mode, 2, cmd.inline);
      return client.finishSession();
    case 'fetch': {
      if (!s) return;
      const cursor = cmd.which === 'next' ? s.delivered + 1 : cmd.which === 'again' ? s.delivered : s.acked + WINDOW + 1;
      if (cursor < 0 || (cmd.which === 'next' && cursor >= s.batches)) return;
      return client.fetch(cursor);
    }
    case 'ack':
      if (!s) return;
      return client.ack(cmd.which === 'fetched' ? Math.max(s.delivered, 0) : s.acked + 1);
    case 'cancel':
      return s ? client.cancel(cmd.how) : undefined;
    case 'feedOpen':
      return client.feedOpen(cmd.resume);
    case 'feedRead':
      return client.feedRead(cmd.n);
    case 'feedClose':
      return client.feedClose();
    case 'wait': {
      // An abandoned session: (start one and fetch a batch,) go quiet past the timeout, come back.
      if (!client.session) await client.handshake('have', 1);
      if (client.session && client.session.delivered < 0) await client.fetch(0);
      const idle = client.session;
      await sleep(TIMEOUT_MS + 30);
      if (!idle || cmd.then === 'nothing') return;
      count(`wait, then ${cmd.then}`);
      return cmd.then === 'fetch' ? client.fetch(Math.min(idle.delivered + 1, idle.batches - 1)) : client.ack(Math.max(idle.delivered, 0));
    }
  }
}

/** Finish or redo the sync, follow the feed to the head, compare with the model and the server. */
async function finalSync(ctx: Ctx, client: SimClient): Promise<void> {
  ctx.log(`final sync of ${client.name}`);
  await client.finishSession();
  if (client.chainPos !== undefined) {
    await client.feedOpen(true);
    await client.follow();
  }
  for (let attempt = 0; attempt < 3 && client.base < ctx.model.head; attempt++) {
    await client.handshake('since', 3);
    await client.finishSession();
  }
  expect(client.base, `${client.name} synced to the head`).toBeGreaterThanOrEqual(ctx.model.head);
  await client.feedOpen(true);
  await client.follow();
  await client.feedClose();
  expect(client.liveView(), `${client.name} after the final sync`).toEqual(ctx.model.liveView());
  expect(client.replica.snapshot()).toEqual(ctx.model.snapshot());
}

async function run(input: { clients: number; commands: Cmd[] }): Promise<void> {
  const trace: string[] = [];
  const ctx: Ctx = {
    server: env.server,
    storeId: await newStore(env.server),
    model: new StoreModel(),
    timeoutMs: TIMEOUT_MS,
    window: WINDOW,
    log: (line) => trace.push(line),
  };
  count('run');
  const clients = Array.from({ length: input.clients }, (_, i) => new SimClient(`client${i}`, ctx));
  try {
    for (const [i, cmd] of input.commands.entries()) {
      ctx.log(`#${i} ${describe(cmd)}`);
      count(`cmd ${cmd.t}`);
      await execute(ctx, clients, cmd);
      for (const c of clients) c.checkConverged();
    }
    for (const c of clients) await finalSync(ctx, c);
    expect(await serverSnapshot(env.server, ctx.storeId), 'server snapshot').toEqual(ctx.model.snapshot());
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n--- trace (store ${ctx.storeId}) ---\n${trace.slice(-60).join('\n')}`, { cause: err });
  } finally {
    for (const c of clients) c.feed?.reader.close();
    await call(env.server, `/v1/stores/${ctx.storeId}`, { method: 'DELETE' });
  }
}

const TIME_LIMIT_MS = Number(process.env.KEYSYNC_FC_TIME_LIMIT_MS ?? 40_000);

group('replication model', () => {
  it(
    'replicas converge to the store under random interleavings',
    async () => {
      const seed = process.env.KEYSYNC_FC_SEED ? Number(process.env.KEYSYNC_FC_SEED) : undefined;
      const path = process.env.KEYSYNC_FC_PATH || undefined;
      const started = Date.now();
      await fc.assert(fc.asyncProperty(scenario, run), {
        numRuns: Number(process.env.KEYSYNC_FC_RUNS ?? 20),
        ...(seed !== undefined ? { seed } : {}),
        ...(path ? { path } : {}),
        // Shrinking a real-server failure can take long; report what was found by then.
        plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)],
      });
      console.log(`replication model: ${Date.now() - started} ms; ${JSON.stringify(stats)}`);
    },
    TIME_LIMIT_MS + 20_000,
  );
});
