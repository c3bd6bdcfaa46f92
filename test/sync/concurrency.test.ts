import { describe, expect, it } from 'vitest';
import { bulk, newStore, put } from '../support/http.js';
import { Replica, serverSnapshot, type Held } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { openFeed, type Feed } from '../support/sse.js';

const env = useTestServer();

const WRITERS = 20;
const WRITES = 50;

/** A replica that counts entries older than what it already holds (which must never arrive). */
class StrictReplica extends Replica {
  backwards: string[] = [];
  override apply(entry: Parameters<Replica['apply']>[0]): boolean {
    const held: Held | undefined = this.data.get(entry.key);
    if (held && held.rev > entry.rev) this.backwards.push(`${entry.key}: held ${held.rev}, got ${entry.rev}`);
    return super.apply(entry);
  }
}

interface Written {
  key: string;
  rev: number;
  ts: string;
  deleted?: true;
}

describe('concurrent writers with a live subscriber and a polling reader', () => {
  // ~6 s on an idle machine; the generous timeout only guards against a loaded one.
  it('hand out revs 1..N once each, and every reader sees every key at its final rev, in order', { timeout: 90_000 }, async () => {
    const storeId = await newStore(env.server);
    const feed = await openFeed(env.server, storeId, '?since=0');
    await feed.waitFor(({ events: evs }) => evs.some((e) => e.event === 'ready'));

    const written: Written[] = [];
    const writer = async (w: number) => {
      for (let i = 0; i < WRITES; i++) {
        const shared = `shared/${(w * 7 + i) % 30}`; // contended by every writer
        if (i % 5 === 4) {
          written.push(
            ...(await bulk(env.server, storeId, [
              { op: 'put', key: shared, value: { w, i, bulk: true } },
              { op: 'put', key: `own/${w}/tmp`, value: i },
              { op: 'delete', key: `own/${w}/tmp` },
              { op: 'put', key: `own/${w}/bin`, base64: Buffer.from([w, i]).toString('base64'), contentType: 'application/x-test' },
            ])),
          );
        } else {
          written.push(await put(env.server, storeId, i % 2 ? shared : `own/${w}/${i % 3}`, { w, i }));
        }
      }
    };

    // A reader that keeps re-syncing with `since` while the writers run.
    const poller = new StrictReplica();
    const heads: number[] = [];
    let writing = true;
    const polling = (async () => {
      while (writing) {
        const hs = await poller.sync(env.server, storeId, { batchSize: 25 });
        heads.push(hs.headRev);
      }
    })();

    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    writing = false;
    await polling;

    // Writers: revs are exactly 1..N, each once.
    const revs = written.map((r) => r.rev).sort((a, b) => a - b);
    const N = revs.length;
    expect(N).toBe(WRITERS * (WRITES - WRITES / 5) + WRITERS * (WRITES / 5) * 4);
    expect(revs).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // ts strictly increasing with rev.
    const byRev = [...written].sort((a, b) => a.rev - b.rev);
    for (let i = 1; i < byRev.length; i++) expect(byRev[i]!.ts > byRev[i - 1]!.ts, `ts at rev ${byRev[i]!.rev}`).toBe(true);

    // Subscriber: strictly increasing ids; each event is a write as reported to its writer; every final rev is seen.
    await feed.waitFor(({ events: evs }) => evs.some((e) => Number(e.id) === N), 30_000);
    feed.close();
    const writeByRev = new Map(written.map((r) => [r.rev, r]));
    const changes = feed.events.filter((e) => e.event === 'put' || e.event === 'delete');
    const ids = changes.map((e) => Number(e.id));
    for (let i = 1; i < ids.length; i++) expect(ids[i]!, `event ${i}`).toBeGreaterThan(ids[i - 1]!);
    for (const e of changes) {
      const w = writeByRev.get(Number(e.id));
      expect(w, `rev ${e.id}`).toBeDefined();
      expect(e.data).toMatchObject({ key: w!.key, rev: w!.rev, ts: w!.ts });
      expect(e.event).toBe(w!.deleted ? 'delete' : 'put');
    }
    const finalRev = new Map<string, number>();
    for (const r of byRev) finalRev.set(r.key, r.rev);
    const seen = new Set(ids);
    const missed = [...finalRev].filter(([, rev]) => !seen.has(rev));
    expect(missed).toEqual([]);

    const live = new StrictReplica();
    for (const e of changes) live.apply(e.data);
    expect(live.backwards).toEqual([]);
    const snapshot = await serverSnapshot(env.server, storeId);
    expect(live.snapshot()).toEqual(snapshot);

    // Poller: head never went backwards, no entry older than one it held, and one more pass converges.
    expect(heads.length).toBeGreaterThan(1);
    for (let i = 1; i < heads.length; i++) expect(heads[i]!).toBeGreaterThanOrEqual(heads[i - 1]!);
    await poller.sync(env.server, storeId);
    expect(poller.backwards).toEqual([]);
    expect(poller.checkpoint).toBe(N);
    expect(poller.snapshot()).toEqual(snapshot);
  });
});

describe('feeds opened while writers run', () => {
  it('miss nothing at the seam between backlog and live events', { timeout: 90_000 }, async () => {
    const storeId = await newStore(env.server);
    const written: Written[] = [];
    let writing = true;
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        if (i % 4 === 3)
          written.push(
            ...(await bulk(env.server, storeId, [
              { op: 'put', key: `k${(w + i) % 15}`, value: i },
              { op: 'put', key: `w${w}`, value: i },
            ])),
          );
        else written.push(await put(env.server, storeId, `k${(w * 3 + i) % 15}`, { w, i }));
      }
    });
    // Open feeds one after another while the writes go on, each from the head it sees (or 0).
    const feeds: Array<{ feed: Feed; since: number }> = [];
    for (let n = 0; n < 6; n++) {
      await new Promise((resolve) => setTimeout(resolve, 60));
      const since = n % 2 ? Math.max(0, ...written.map((r) => r.rev)) : 0;
      feeds.push({ feed: await openFeed(env.server, storeId, `?since=${since}`), since });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    writing = false;
    await Promise.all(writers);
    const head = Math.max(...written.map((r) => r.rev));
    const finalRev = new Map<string, number>();
    for (const r of [...written].sort((a, b) => a.rev - b.rev)) finalRev.set(r.key, r.rev);
    const snapshot = await serverSnapshot(env.server, storeId);
    for (const { feed, since } of feeds) {
      try {
        await feed.waitFor(({ events: evs }) => evs.some((e) => Number(e.id) === head), 30_000);
        const changes = feed.events.filter((e) => e.event === 'put' || e.event === 'delete');
        const ids = changes.map((e) => Number(e.id));
        for (let i = 1; i < ids.length; i++) expect(ids[i]!, `since ${since}, event ${i}`).toBeGreaterThan(ids[i - 1]!);
        const seen = new Set(ids);
        expect(
          [...finalRev].filter(([, rev]) => rev > since && !seen.has(rev)),
          `since ${since}`,
        ).toEqual([]);
        if (since === 0) {
          const replica = new Replica();
          for (const e of changes) replica.apply(e.data);
          expect(replica.snapshot()).toEqual(snapshot);
        }
      } finally {
        feed.close();
      }
    }
  });
});
