/**
 * Each session rule is written once in TypeScript (the locked path) and once
 * in SQL (the fast path), side by side in src/sync/session-rules.ts.
 * Here the database evaluates every SQL form over random session rows and
 * each must equal its TypeScript twin, edges included (a window's last
 * cursor, an idle time of exactly the timeout, a session without batches).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SESSION_DONE_SQL,
  advancesAck,
  advancesAckSql,
  hasBatch,
  hasBatchSql,
  isDone,
  isExpired,
  isInWindow,
  isInWindowSql,
  sessionOpenSql,
  wasDelivered,
  wasDeliveredSql,
  type SessionProgress,
} from '../../src/sync/session-rules.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const CURSOR = '$8::int';
const RULES = `select ${SESSION_DONE_SQL} as done, ${sessionOpenSql('$6::bigint', '$7::bigint')} as open,
    ${hasBatchSql(CURSOR)} as has_batch, ${isInWindowSql(CURSOR)} as in_window,
    ${wasDeliveredSql(CURSOR)} as was_delivered, ${advancesAckSql(CURSOR)} as advances_ack
  from (select $1::int as batches, $2::int as "window", $3::int as delivered, $4::int as acked, $5::bigint as last_active_us) as sync_sessions`;

/** A session row as the handshake and later calls leave it (acked <= delivered < batches), and a moment and a cursor near it. */
const scene = fc
  .record({ batches: fc.integer({ min: 0, max: 6 }), window: fc.integer({ min: 1, max: 3 }), lastActiveUs: fc.integer({ min: 0, max: 1e15 }) })
  .chain((s) =>
    fc.record({
      session: fc
        .integer({ min: -1, max: Math.max(-1, s.batches - 1) })
        .chain((delivered) => fc.integer({ min: -1, max: delivered }).map((acked): SessionProgress => ({ ...s, delivered, acked }))),
      timeoutUs: fc.integer({ min: 0, max: 5_000_000 }),
      idleUs: fc.oneof(fc.integer({ min: -10, max: 10 }), fc.integer({ min: 0, max: 10_000_000 })),
      cursor: fc.integer({ min: 0, max: s.batches + 4 }),
    }),
  )
  // The idle time straddles the timeout as often as not.
  .chain((v) => fc.constantFrom(v.idleUs, v.timeoutUs - 1, v.timeoutUs, v.timeoutUs + 1).map((idleUs) => ({ ...v, nowUs: v.session.lastActiveUs + idleUs })));

describe('session rules', () => {
  it('say the same in SQL as in TypeScript', async () => {
    await fc.assert(
      fc.asyncProperty(scene, async ({ session: s, nowUs, timeoutUs, cursor }) => {
        const [row] = await db.database.rows<Record<string, boolean>>(RULES, [
          s.batches,
          s.window,
          s.delivered,
          s.acked,
          s.lastActiveUs,
          nowUs,
          timeoutUs,
          cursor,
        ]);
        expect(row).toEqual({
          done: isDone(s),
          open: !isExpired(s, nowUs, timeoutUs),
          has_batch: hasBatch(s, cursor),
          in_window: isInWindow(s, cursor),
          was_delivered: wasDelivered(s, cursor),
          advances_ack: advancesAck(s, cursor),
        });
      }),
      { numRuns: 200 },
    );
  });
});
