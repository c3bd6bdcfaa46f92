/**
 * A keysync replica written against the client @hey-api/openapi-ts generates
 * from openapi/openapi.json, and nothing else of this repository: register,
 * write, handshake, fetch and apply batches (dispatching on the entries'
 * `kind`), acknowledge, then a second handshake that finds nothing stale.
 * tsc checks this file against the generated types; the contract test runs it.
 */
import { createClient, createConfig } from './generated/client/index.js';
import * as api from './generated/sdk.gen.js';
import type { Entry, GeneralProblem, Handshake, Problem, SessionStatus, WriteOp } from './generated/types.gen.js';

type Client = ReturnType<typeof createClient>;
export type Held = { kind: 'json'; value: unknown; ts: string } | { kind: 'bytes'; base64: string; contentType: string; ts: string };

export interface RoundTripResult {
  storeId: string;
  writtenRevs: number[];
  first: Handshake;
  replica: Record<string, Held>;
  acks: Array<{ acked: number; done: boolean }>;
  statusAfter: SessionStatus;
  /** the `kind` of each entry of the first sync's batches, in order */
  seenKinds: Entry['kind'][];
  second: Handshake;
  secondStatus: SessionStatus;
  pathRead: unknown;
  dotsRead: unknown;
  missing: Problem;
}

/** `data` of a generated call, or the problem it answered, thrown with its type. */
function ok<T>(res: { data?: T; error?: unknown; response?: Response }, what: string): T {
  if (res.error !== undefined || res.data === undefined) {
    throw new Error(`${what}: ${res.response?.status} ${JSON.stringify(res.error)}`);
  }
  return res.data;
}

/** Applies a batch entry as a replica must: only when its rev is newer; the `kind` discriminator says what it holds. */
function apply(replica: Record<string, Held>, revs: Record<string, number>, entry: Entry, seen: Entry['kind'][]): void {
  seen.push(entry.kind);
  if ((revs[entry.key] ?? 0) >= entry.rev) return;
  revs[entry.key] = entry.rev;
  switch (entry.kind) {
    case 'json':
      replica[entry.key] = { kind: 'json', value: entry.value, ts: entry.ts };
      break;
    case 'bytes':
      replica[entry.key] = { kind: 'bytes', base64: entry.base64, contentType: entry.contentType, ts: entry.ts };
      break;
    case 'tombstone':
      delete replica[entry.key];
      break;
  }
}

async function sync(
  client: Client,
  storeId: string,
  have: Record<string, string>,
  replica: Record<string, Held>,
  acks: RoundTripResult['acks'],
  afterHandshake?: () => Promise<void>,
) {
  const seenKinds: Entry['kind'][] = [];
  const hs = ok(await api.handshake({ client, path: { storeId }, body: { have, batchSize: 2 } }), 'handshake');
  await afterHandshake?.();
  const revs: Record<string, number> = {};
  for (const key of hs.removed) delete replica[key];
  for (let cursor: number | null = hs.batches > 0 ? 0 : null; cursor !== null; ) {
    const batch = ok(await api.batch({ client, path: { storeId, sessionId: hs.sessionId, cursor } }), `batch ${cursor}`);
    for (const entry of batch.entries) apply(replica, revs, entry, seenKinds);
    const ack = ok(await api.ack({ client, path: { storeId, sessionId: hs.sessionId }, body: { cursor } }), `ack ${cursor}`);
    acks.push({ acked: ack.acked, done: ack.done });
    cursor = ack.next;
  }
  const status = ok(await api.sessionStatus({ client, path: { storeId, sessionId: hs.sessionId } }), 'session status');
  return { hs, status, seenKinds };
}

export async function roundTrip(baseUrl: string, name: string): Promise<RoundTripResult> {
  const client = createClient(createConfig({ baseUrl }));
  const registered = ok(await api.registerStore({ client, body: { config: { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', name } } }), 'register');
  const storeId = registered.storeId;

  const ops: WriteOp[] = [
    { op: 'put', key: 'users/1', value: { name: 'Ada', langs: ['en', 'fr'] } },
    { op: 'put', key: '..', base64: 'AAH/', contentType: 'application/x-test' },
    { op: 'put', key: 'gone', value: null },
  ];
  const written = ok(await api.bulkWrite({ client, path: { storeId }, body: { ops } }), 'bulk write');
  // The generator percent-encodes the path parameter: `users/2` travels as one segment.
  const put = ok(await api.putKey({ client, path: { storeId, key: 'users/2' }, body: { name: 'Grace' } }), 'put');

  const replica: Record<string, Held> = {};
  const acks: RoundTripResult['acks'] = [];
  // Deleted after the handshake listed it as stale: its batch carries the tombstone.
  let deleted = 0;
  const deleteGone = async () => {
    deleted = ok(await api.deleteKey({ client, path: { storeId, key: 'gone' } }), 'delete').rev;
  };
  const { hs: first, status: statusAfter, seenKinds } = await sync(client, storeId, {}, replica, acks, deleteGone);

  const have = Object.fromEntries(Object.entries(replica).map(([key, held]) => [key, held.ts]));
  const { hs: second, status: secondStatus } = await sync(client, storeId, have, replica, acks);

  const pathRead = ok(await api.getKey({ client, path: { storeId, key: 'users/2' } }), 'get users/2');
  const dotsRead = ok(await api.getKeyByQuery({ client, path: { storeId }, query: { key: '..' }, parseAs: 'arrayBuffer' }), 'get ..');
  const missing = await api.getKey({ client, path: { storeId, key: 'never written' } });
  if (missing.error === undefined) throw new Error('a missing key answered without a problem');
  const problem: Problem = missing.error;
  if (problem.type !== 'https://keysync.dev/problems/validation') {
    const general: GeneralProblem = problem; // narrowed by the `type` discriminator
    void general;
  }

  return {
    storeId,
    writtenRevs: [...written.results.map((r) => r.rev), put.rev, deleted],
    first,
    replica,
    acks,
    statusAfter,
    seenKinds,
    second,
    secondStatus,
    pathRead,
    dotsRead: [...new Uint8Array(dotsRead as ArrayBuffer)],
    missing: problem,
  };
}
