/**
 * Randomized model test: random options (filter, order, walk, replaced by
 * PATCH along the way) and random writes, with a replica syncing now and then
 * by `have` or `since`. After a final `have` sync the replica holds exactly
 * the subset of the server that passes the filter and is reachable from the
 * walk roots, and the batches came in rank order, rev order within a rank.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bulk, call, json, newStore } from '../support/http.js';
import { serverSnapshot } from '../support/replica.js';
import { useTestServer } from '../support/server.js';
import { passesFilter, reachable, subset, syncAll, type Entry } from './helpers.js';

const env = useTestServer();

const KEYS = ['a', 'a/1', 'a/2', 'b', 'b/1', 'db', 'db/x', 'c'];
const PREFIXES = ['', 'a', 'a/', 'b', 'b/1', 'db', 'c', 'zz'];

interface Options {
  filter?: { prefixes?: string[]; excludePrefixes?: string[] };
  order?: Array<{ prefix: string; rank: number }>;
  walk?: { roots: string[]; refs: string[] };
}

const optionsArb: fc.Arbitrary<Options> = fc.record(
  {
    filter: fc.record({ prefixes: fc.subarray(PREFIXES, { maxLength: 3 }), excludePrefixes: fc.subarray(PREFIXES, { maxLength: 2 }) }, { requiredKeys: [] }),
    order: fc.uniqueArray(fc.record({ prefix: fc.constantFrom(...PREFIXES), rank: fc.integer({ min: -2, max: 2 }) }), {
      selector: (r) => r.prefix,
      maxLength: 3,
    }),
    walk: fc.record({
      roots: fc.subarray(KEYS, { minLength: 1, maxLength: 2 }),
      refs: fc.constantFrom(['$.r[*]'], ['$.r[*]', '$.x'], ['$..x']),
    }),
  },
  { requiredKeys: [] },
);

type Value = { r?: string[]; x?: string } | string | { bytes: string };
const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.record({ r: fc.subarray([...KEYS, 'missing'], { maxLength: 3 }), x: fc.constantFrom(...KEYS) }, { requiredKeys: ['r'] }),
  fc.string({ maxLength: 4 }),
  fc.constantFrom({ bytes: 'AAE=' }, { bytes: 'Ag==' }),
);
const opArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), key: fc.constantFrom(...KEYS), value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }) },
);
const stepArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), ops: fc.array(opArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('patch' as const), options: optionsArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), mode: fc.constantFrom('have' as const, 'since' as const) }) },
);

/** Longest matching prefix wins, else rank 0 (the contract's rule, restated). */
function rankOf(key: string, order: Options['order']): number {
  let best: { prefix: string; rank: number } | undefined;
  for (const rule of order ?? []) if (key.startsWith(rule.prefix) && (!best || rule.prefix.length > best.prefix.length)) best = rule;
  return best?.rank ?? 0;
}

function refsFor(refs: string[]): (value: unknown) => string[] {
  return (value) => {
    const v = value as { r?: unknown; x?: unknown } | null;
    if (typeof v !== 'object' || v === null) return [];
    const out: string[] = [];
    if (refs.includes('$.r[*]') && Array.isArray(v.r)) out.push(...v.r.filter((s): s is string => typeof s === 'string'));
    if ((refs.includes('$.x') || refs.includes('$..x')) && typeof v.x === 'string') out.push(v.x);
    return out;
  };
}

/** A replica that drops `removed` keys outright (see the note in patch.test.ts on recording them at headRev). */
class ModelReplica {
  readonly data = new Map<string, Entry>();
  checkpoint: number | undefined;

  async sync(storeId: string, mode: 'have' | 'since'): Promise<{ stale: string[]; entries: Entry[] }> {
    let body: Record<string, unknown>;
    if (mode === 'since' && this.checkpoint !== undefined) body = { since: this.checkpoint, batchSize: 3 };
    else body = { have: Object.fromEntries([...this.data].map(([k, e]) => [k, e.ts])), batchSize: 3 };
    const { hs, entries } = await syncAll(env.server, storeId, body);
    for (const key of hs.removed) this.data.delete(key);
    for (const e of entries) {
      const held = this.data.get(e.key);
      if (held && held.rev >= e.rev) continue;
      if (e.deleted) this.data.delete(e.key);
      else this.data.set(e.key, e);
    }
    this.checkpoint = hs.headRev;
    return { stale: hs.stale, entries };
  }

  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of [...this.data.keys()].sort()) {
      const e = this.data.get(key)!;
      out[key] = e.base64 !== undefined ? { base64: e.base64, contentType: e.contentType } : e.value;
    }
    return out;
  }
}

describe('random options and writes', () => {
  it('a have sync leaves the replica with exactly the filtered, reachable subset, in rank order', async () => {
    await fc.assert(
      fc.asyncProperty(optionsArb, fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (initial, steps) => {
        let options = initial;
        const storeId = await newStore(env.server, options);
        const replica = new ModelReplica();
        for (const step of steps) {
          if (step.kind === 'write') {
            await bulk(
              env.server,
              storeId,
              step.ops.map((o) =>
                o.op === 'delete'
                  ? o
                  : typeof o.value === 'object' && 'bytes' in o.value
                    ? { op: 'put', key: o.key, base64: o.value.bytes, contentType: 'application/octet-stream' }
                    : o,
              ),
            );
          } else if (step.kind === 'patch') {
            options = step.options;
            expect((await call(env.server, `/v1/stores/${storeId}`, json({ options }, { method: 'PATCH' }))).status).toBe(200);
          } else {
            await replica.sync(storeId, step.mode);
          }
        }
        const { stale, entries } = await replica.sync(storeId, 'have');

        const snapshot = await serverSnapshot(env.server, storeId);
        const live = options.walk ? reachable(snapshot, options.walk.roots, refsFor(options.walk.refs)) : undefined;
        const expected = subset(snapshot, (k) => passesFilter(k, options.filter) && (!live || live.has(k)));
        expect(replica.snapshot()).toEqual(expected);

        expect(entries.map((e) => e.key)).toEqual(stale);
        const ranks = entries.map((e) => rankOf(e.key, options.order));
        for (let i = 1; i < entries.length; i++) {
          expect(ranks[i]!).toBeGreaterThanOrEqual(ranks[i - 1]!);
          if (ranks[i] === ranks[i - 1]) expect(entries[i]!.rev).toBeGreaterThan(entries[i - 1]!.rev);
        }
      }),
      { numRuns: 30 },
    );
  });
});
