/**
 * The notice statement: listeners hear every payload, and the commit it
 * makes does not wait for a WAL flush without leaving that setting behind on
 * the connection (a later write must still commit durably).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTICE_CHANNEL, NOTIFY_SQL } from '../../src/db/notices.js';
import { preparedDb } from '../../src/db/prepared.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase({ migrated: false });
});
afterAll(() => t.drop());

describe('notices', () => {
  it('reach a listener, one per payload, in order', async () => {
    const heard: string[] = [];
    const stop = await t.database.listen(NOTICE_CHANNEL, (payload) => heard.push(payload));
    try {
      await t.database.rows(NOTIFY_SQL, [['{"a":1}', '{"b":2}']]);
      await expect.poll(() => heard).toEqual(['{"a":1}', '{"b":2}']);
    } finally {
      await stop();
    }
  });

  it('have listeners the embedded database counts (every one is in this process), PostgreSQL not', async () => {
    const channel = `${NOTICE_CHANNEL}_count`;
    if (t.database.kind === 'postgres') {
      expect(t.database.listenerCount(channel)).toBeUndefined();
      return;
    }
    expect(t.database.listenerCount(channel)).toBe(0);
    const stopA = await t.database.listen(channel, () => {});
    const stopB = await t.database.listen(channel, () => {});
    expect(t.database.listenerCount(channel)).toBe(2);
    await stopA();
    await stopA();
    expect(t.database.listenerCount(channel)).toBe(1);
    await stopB();
    expect(t.database.listenerCount(channel)).toBe(0);
  });

  it('skip the WAL flush for their own transaction only', async () => {
    const setting = await preparedDb(t.database.db).transaction(async (query) => {
      await query(NOTIFY_SQL, [['{"c":3}']]);
      const [row] = await query<{ synchronous_commit: string }>('show synchronous_commit');
      return row!.synchronous_commit;
    });
    expect(setting).toBe('off');
    // Every connection of the pool, after the statement ran on each: the session setting is unchanged.
    for (let i = 0; i < 12; i++) await t.database.rows(NOTIFY_SQL, [['{"d":4}']]);
    const settings = await Promise.all(Array.from({ length: 12 }, () => t.database.rows<{ synchronous_commit: string }>('show synchronous_commit')));
    expect(settings.map((rows) => rows[0]!.synchronous_commit)).toEqual(Array(12).fill('on'));
  });
});
