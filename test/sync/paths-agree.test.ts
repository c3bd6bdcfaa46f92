/**
 * A batch fetch or an ack is answered by a single statement when it can
 * (src/sync/batch.sql.ts) and by the locked path otherwise (src/sync/sessions.ts).
 * The two must be indistinguishable. Random scenarios run one sequence of
 * calls on two sessions of one store, opened together: one session through
 * the fast path with its fall-through (as the server serves it), the other
 * through the locked path alone. After every step both give the same answer
 * (the same body bytes, the same ack, the same DomainError kind) and leave
 * their session rows and chunks in the same state.
 *
 * The clock is faked (Date only), so both sessions see the same instants and
 * a wait can land exactly on the timeout or one millisecond past it.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DomainError } from '../../src/domain-errors.js';
import type { PolicyFunctions, SyncOptions } from '../../src/options/index.js';
import { purgeTombstones } from '../../src/store/purge.js';
import { registerStore, updateOptions } from '../../src/store/stores.js';
import { applyWrites, type WriteOp } from '../../src/store/writes.js';
import { acknowledgeFast, fetchBatchFast } from '../../src/sync/batch.sql.js';
import { handshake } from '../../src/sync/handshake.js';
import { HaveList } from '../../src/sync/have-list.js';
import { PolicyRegistry } from '../../src/sync/policy-registry.js';
import { acknowledgeLocked, fetchBatchLocked, type BatchRequest } from '../../src/sync/sessions.js';
import { backend, createTestDatabase, type TestDatabase } from '../support/db.js';

const TIMEOUT_MS = 1000;
const KEY_COUNT = 7;
/** Keys under two prefixes, so filters and ranks split them. */
const keyName = (i: number) => `${i % 2 === 0 ? 'a' : 'b'}/${i}`;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterAll(async () => {
  vi.useRealTimers();
  await db?.drop();
});

type Value = { json: unknown } | { bytes: string };
type Step =
  /** The cursor counts from the session's last ack or last delivered batch (both sessions agree on them), or from 0. */
  | { op: 'fetch' | 'ack'; from: 'acked' | 'delivered' | 'zero'; offset: number; unknownSession: boolean }
  | { op: 'wait'; ms: number }
  | { op: 'put'; key: number; value: Value }
  | { op: 'delete'; key: number }
  | { op: 'purge' }
  /** `heard`: this instance hears of the change (PolicyRegistry.forget), so its `open` hint is fresh. */
  | { op: 'options'; options: SyncOptions; heard: boolean };

const value: fc.Arbitrary<Value> = fc.oneof(
  fc.record({ json: fc.oneof(fc.integer(), fc.string({ maxLength: 6, unit: 'binary' }), fc.constant(null), fc.record({ n: fc.nat(9) })) }),
  // A value the library filter of some scenarios rejects.
  fc.constant({ json: { hide: true } }),
  fc.record({ bytes: fc.string({ maxLength: 8 }) }),
);

const options: fc.Arbitrary<SyncOptions> = fc.constantFrom<SyncOptions>(
  {},
  { filter: { prefixes: ['a/'] } },
  { filter: { excludePrefixes: ['a/1', 'b/'] } },
  { order: [{ prefix: 'b/', rank: 1 }] },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constantFrom('fetch' as const, 'ack' as const),
      // Mostly near the session's progress: the next batch, a retry, a stale or a future cursor.
      from: fc.constantFrom('acked' as const, 'delivered' as const, 'zero' as const),
      offset: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -1, max: 2 }) }, { weight: 1, arbitrary: fc.nat(8) }),
      unknownSession: fc.nat(19).map((n) => n === 0),
    }),
  },
  // Each fetch or ack takes 1 ms: after a wait of TIMEOUT_MS - 1 the next call comes exactly at the timeout, after TIMEOUT_MS just past it.
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('wait' as const), ms: fc.constantFrom(10, TIMEOUT_MS - 2, TIMEOUT_MS - 1, TIMEOUT_MS, 3 * TIMEOUT_MS) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('put' as const), key: fc.nat(KEY_COUNT - 1), value }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.nat(KEY_COUNT - 1) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'purge' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('options' as const), options, heard: fc.boolean() }) },
);

const scenario = fc.record({
  values: fc.array(value, { minLength: 2, maxLength: KEY_COUNT }),
  deletedFirst: fc.array(fc.nat(KEY_COUNT - 1), { maxLength: 2 }),
  options,
  valueFilter: fc.boolean(),
  batchSize: fc.integer({ min: 1, max: 3 }),
  window: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(step, { minLength: 6, maxLength: 24 }),
});

function writeOp(key: number, v: Value): WriteOp {
  return 'json' in v
    ? { op: 'put', key: keyName(key), json: JSON.stringify(v.json) }
    : { op: 'put', key: keyName(key), bytes: Buffer.from(v.bytes), contentType: 'application/octet-stream' };
}

/** What a call answered: the body bytes (hex), an ack, or a DomainError's kind. */
async function outcome(call: () => Promise<string | Buffer | object>): Promise<unknown> {
  try {
    const answer = await call();
    return typeof answer === 'object' && !Buffer.isBuffer(answer) ? { ack: answer } : { body: Buffer.from(answer).toString('hex') };
  } catch (err) {
    if (err instanceof DomainError) return { error: err.kind };
    throw err;
  }
}

/** Everything a call may change: the session row and which chunks are left. */
async function sessionState(storeId: string, sessionId: string): Promise<Record<string, unknown> | null> {
  const [row] = await db.database.rows<Record<string, unknown>>(
    `select s.head_rev::text, s.batch_size, s."window", s.total, s.batches, s.delivered, s.acked, s.acked_keys, s.last_active_us::text,
       (select coalesce(json_agg(json_build_object('cursor', c.cursor, 'keys', c.keys) order by c.cursor), '[]'::json)::text
          from sync_chunks c where c.store_id = s.store_id and c.session_id = s.id) as chunks
     from sync_sessions s where s.store_id = $1::uuid and s.id = $2::uuid`,
    [storeId, sessionId],
  );
  return row ?? null;
}

/** How often the fast path answered, and how often it fell through: a run that never takes one of them proves little. */
const taken = { fast: 0, fellThrough: 0 };

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

async function runScenario(sc: Scenario): Promise<void> {
  const storeId = randomUUID();
  const functions: Record<string, PolicyFunctions> = sc.valueFilter
    ? { [storeId]: { filter: (_key, v) => !(typeof v === 'object' && v !== null && (v as { hide?: boolean }).hide) } }
    : {};
  const policies = new PolicyRegistry(functions);
  const policyFor = (o: Record<string, unknown>) => policies.policyFor(storeId, o);
  let now = Date.UTC(2030, 0, 1);
  vi.setSystemTime(now);

  await registerStore(db.database.db, storeId, { scope: storeId }, sc.options);
  const ops = sc.values.map((v, i) => writeOp(i, v));
  for (const k of sc.deletedFirst) if (k < ops.length) ops.push({ op: 'delete', key: keyName(k) });
  await applyWrites(db.database.db, storeId, ops);
  const settings = { batchSize: sc.batchSize, maxBatchSize: 100, batchBytes: 1 << 20, window: sc.window, timeoutMs: TIMEOUT_MS };
  const fast = await handshake(db.database.db, storeId, { have: HaveList.of([]) }, policyFor, settings);
  const locked = await handshake(db.database.db, storeId, { have: HaveList.of([]) }, policyFor, settings);
  let state = await sessionState(storeId, locked.sessionId);
  expect(await sessionState(storeId, fast.sessionId)).toEqual(state);

  for (const s of sc.steps) {
    switch (s.op) {
      case 'wait':
        now += s.ms;
        vi.setSystemTime(now);
        continue;
      case 'put':
        await applyWrites(db.database.db, storeId, [writeOp(s.key, s.value)]);
        continue;
      case 'delete':
        await applyWrites(db.database.db, storeId, [{ op: 'delete', key: keyName(s.key) }]);
        continue;
      case 'purge':
        await purgeTombstones(db.database.db, 0, Number.MAX_SAFE_INTEGER);
        continue;
      case 'options':
        await updateOptions(db.database.db, storeId, s.options, 'test');
        if (s.heard) policies.forget(storeId);
        continue;
    }
    now += 1;
    vi.setSystemTime(now);
    const base = s.from === 'zero' || !state ? 0 : Number(state[s.from]);
    const cursor = Math.max(0, base + s.offset);
    const unknown = s.unknownSession ? randomUUID() : undefined;
    const open = policies.isOpen(storeId);
    const request = (sessionId: string): BatchRequest => ({ storeId, sessionId: unknown ?? sessionId, cursor, timeoutMs: TIMEOUT_MS, policyFor, open });
    // The server's composition (fetchBatch, acknowledge), written out to count which path answered.
    const viaFast =
      s.op === 'fetch'
        ? await outcome(async () => {
            const answer = await fetchBatchFast(db.database.db, request(fast.sessionId));
            taken[answer === undefined ? 'fellThrough' : 'fast']++;
            return answer ?? fetchBatchLocked(db.database.db, request(fast.sessionId));
          })
        : await outcome(async () => {
            const { sessionId } = request(fast.sessionId);
            const answer = await acknowledgeFast(db.database.db, storeId, sessionId, cursor, TIMEOUT_MS);
            taken[answer === undefined ? 'fellThrough' : 'fast']++;
            return answer ? { result: answer, finished: answer.done } : acknowledgeLocked(db.database.db, storeId, sessionId, cursor, TIMEOUT_MS);
          });
    const viaLocked =
      s.op === 'fetch'
        ? await outcome(() => fetchBatchLocked(db.database.db, request(locked.sessionId)))
        : await outcome(() => acknowledgeLocked(db.database.db, storeId, request(locked.sessionId).sessionId, cursor, TIMEOUT_MS));
    expect(viaFast, `${s.op} ${cursor}`).toEqual(viaLocked);
    state = await sessionState(storeId, locked.sessionId);
    expect(await sessionState(storeId, fast.sessionId), `after ${s.op} ${cursor}`).toEqual(state);
  }
}

describe(`fast and locked paths of batches and acks (${backend})`, () => {
  it('answer alike and leave the session alike', async () => {
    await fc.assert(fc.asyncProperty(scenario, runScenario), { numRuns: 25 });
    expect(taken.fast).toBeGreaterThan(0);
    expect(taken.fellThrough).toBeGreaterThan(0);
  }, 120_000);
});
