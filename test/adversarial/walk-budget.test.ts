/**
 * Walk values crafted to blow up a JSONPath evaluation, on a real server
 * process: every handshake still answers, with a bounded cost, and the
 * server keeps answering /healthz while it walks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyWrites } from '../../src/store/writes.js';
import { probeWhile, quantile, registerStore, serverOn, type AdversarialServer } from './support.js';

/** `{"a":{"a":…"leaf"…}}`, `depth` levels. */
const chainOfA = (depth: number, leaf: string) => '{"a":'.repeat(depth) + JSON.stringify(leaf) + '}'.repeat(depth);

/** 30 levels, each an object of 1,000 strings and the next level. */
function wideAndDeep(levels: number, width: number): string {
  let text = '"bottom"';
  for (let l = levels - 1; l >= 0; l--) {
    const members = Array.from({ length: width }, (_, i) => `"s${i}":"v${l}-${i}"`).join(',');
    text = `{${members},"down":${text}}`;
  }
  return text;
}

const deepArrays = (depth: number, inner: string) => '['.repeat(depth) + inner + ']'.repeat(depth);

let server: AdversarialServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  server = await serverOn(
    // A small heap makes an unbounded walk fail fast instead of after minutes.
    { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=384`.trim() },
    async (keysync) => {
      const db = keysync.database.db;
      const put = (storeId: string, key: string, json: string) => applyWrites(db, storeId, [{ op: 'put', key, json }]);
      ids.chains = await registerStore(keysync, 'chains', { walk: { roots: ['root'], refs: ['$..a..a'] } });
      // 990 levels: the whole value stays within the walk's default depth budget (1000).
      await put(ids.chains, 'root', `{"l":${chainOfA(990, 'leaf')},"r":${chainOfA(990, 'leaf2')}}`);
      await put(ids.chains, 'leaf', '1');
      await put(ids.chains, 'other', '2');

      ids.wide = await registerStore(keysync, 'wide', { walk: { roots: ['root'], refs: ['$..*..*'] } });
      await put(ids.wide, 'root', wideAndDeep(30, 1000));
      await put(ids.wide, 'v29-7', '"reached"');

      ids.deep = await registerStore(keysync, 'deep', { walk: { roots: ['root'], refs: ['$.next', '$..address'] } });
      await put(ids.deep, 'root', '{"next":"deep","address":"sibling"}');
      await put(ids.deep, 'deep', `{"next":"after","nest":${deepArrays(2000, '{"address":"hidden"}')}}`);
      for (const key of ['sibling', 'after', 'hidden']) await put(ids.deep, key, '0');

      ids.warm = await registerStore(keysync, 'warm-up', { walk: { roots: ['root'], refs: ['$.next'] } });
      await put(ids.warm, 'root', '{"next":"x"}');
    },
  );
  // The first requests of a fresh process compile code and prepare statements: not what is measured here.
  for (let i = 0; i < 3; i++) await handshake(ids.warm!);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

async function handshake(storeId: string, body: unknown = { have: {} }): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/v1/stores/${storeId}/sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Handshakes one after another (at least three, and until 20 probes were
 * taken), with /healthz probed every 5 ms while they run.
 */
async function handshakeWhileProbing(storeId: string) {
  let probes = 0;
  const repeated = async () => {
    const results = [];
    while (results.length < 3 || probes < 20) results.push(await handshake(storeId));
    return results;
  };
  const { result, latencies } = await probeWhile(server.url, repeated(), 5, () => probes++);
  if (result.status === 'rejected') throw new Error(`handshake failed: ${String(result.reason)}; server stderr: ${server.proc.stderr().slice(-2000)}`);
  // Generous for a loaded CI machine (PGlite itself holds the event loop for each query); an
  // unbounded walk stalls for seconds or kills the process.
  const shown = `healthz latencies (ms): ${latencies.map(Math.round).join(',')}`;
  expect(quantile(latencies, 0.5), shown).toBeLessThan(100);
  expect(Math.max(...latencies), shown).toBeLessThan(1500);
  for (const hs of result.value) expect(hs.status, JSON.stringify(hs.body)).toBe(201);
  return result.value[0]!.body as { stale: string[]; removed: string[] };
}

describe('walk budget (a real server process)', () => {
  it('walks two {"a":…} chains 990 deep with $..a..a in linear time', async () => {
    const hs = await handshakeWhileProbing(ids.chains!);
    expect([...hs.stale].sort()).toEqual(['leaf', 'root']);
  }, 120_000);

  it('walks a value 30 levels deep with $..*..* without stalling other requests', async () => {
    const hs = await handshakeWhileProbing(ids.wide!);
    expect([...hs.stale].sort()).toEqual(['root', 'v29-7']);
  }, 120_000);

  it('a value nested 2,000 deep costs only the refs of that value: the store still syncs', async () => {
    const hs = await handshakeWhileProbing(ids.deep!);
    // root and its refs are synced; "deep" is reached but its refs (after, hidden) are not followed.
    expect([...hs.stale].sort()).toEqual(['deep', 'root', 'sibling']);
    const held = await handshake(ids.deep!, { have: { after: '2026-01-01T00:00:00Z' } });
    expect(held.status).toBe(201);
    expect(held.body.removed).toEqual(['after']);
  }, 120_000);
});

describe('walk budget limits (a real server process)', () => {
  let limited: AdversarialServer;
  afterAll(async () => {
    await limited?.stop();
  });

  it('answers 422 walk-failed naming the limit when a walk needs more than its budget', async () => {
    limited = await serverOn({ KEYSYNC_WALK_MAX_STEPS: '1000', KEYSYNC_WALK_MAX_KEYS: '100' }, async (keysync) => {
      const db = keysync.database.db;
      ids.limitedSteps = await registerStore(keysync, 'limited-steps', { walk: { roots: ['root'], refs: ['$.children[*]'] } });
      await applyWrites(db, ids.limitedSteps, [
        { op: 'put', key: 'root', json: JSON.stringify({ children: Array.from({ length: 5000 }, (_, i) => `c${i}`) }) },
      ]);
      ids.limitedKeys = await registerStore(keysync, 'limited-keys', { walk: { roots: ['root'], refs: ['$.children[*]'] } });
      await applyWrites(db, ids.limitedKeys, [{ op: 'put', key: 'root', json: JSON.stringify({ children: Array.from({ length: 200 }, (_, i) => `c${i}`) }) }]);
    });
    for (const [storeId, setting] of [
      [ids.limitedSteps!, 'KEYSYNC_WALK_MAX_STEPS'],
      [ids.limitedKeys!, 'KEYSYNC_WALK_MAX_KEYS'],
    ] as const) {
      const res = await fetch(`${limited.url}/v1/stores/${storeId}/sync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"have":{}}',
      });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = (await res.json()) as { type: string; detail: string };
      expect(body.type).toBe('https://keysync.dev/problems/walk-failed');
      expect(body.detail).toContain(setting);
    }
  }, 120_000);
});
