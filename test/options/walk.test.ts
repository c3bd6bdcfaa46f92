import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WalkLimitError, compilePolicy, compileRefs, walkReachable } from '../../src/options/index.js';
import { BYTES, fakeStore } from './fake-store.js';

const REFS = ['$.children[*]', '$..address'];

async function walk(entries: [string, unknown][], roots: string[], refs = REFS, chunkSize?: number) {
  const store = fakeStore(entries);
  const policy = compilePolicy({ walk: { roots, refs } }, {}, chunkSize === undefined ? {} : { walkChunkSize: chunkSize });
  const reached = await policy.walk!(store.read);
  return { reached, store };
}

describe('walk', () => {
  it('follows children and addresses at any depth, through cycles, past dangling refs', async () => {
    const { reached, store } = await walk(
      [
        ['root', { children: ['a', 'b', 'missing'] }],
        ['a', { children: ['root', 'a'], info: { nested: [{ address: 'c' }] } }],
        ['b', { address: 'd', children: [42, null, { not: 'a ref' }] }],
        ['c', { children: ['a'] }],
        ['d', BYTES],
        ['island', { children: ['root'] }],
        ['e', {}],
      ],
      ['root'],
    );
    expect([...reached].sort()).toEqual(['a', 'b', 'c', 'd', 'root']);
    expect([...store.asked.values()].every((n) => n === 1)).toBe(true);
    expect(store.asked.has('missing')).toBe(true);
  });

  it('leaves out roots that do not exist and visits the ones that do', async () => {
    const { reached } = await walk(
      [
        ['r2', { children: ['x'] }],
        ['x', 'leaf'],
      ],
      ['r1', 'r2'],
    );
    expect(reached).toEqual(new Set(['r2', 'x']));
  });

  it('gives byte values no refs', async () => {
    const { reached } = await walk(
      [
        ['root', BYTES],
        ['a', 'x'],
      ],
      ['root'],
      ['$', '$..*'],
    );
    expect(reached).toEqual(new Set(['root']));
  });

  it('ignores selected strings that cannot be keys', async () => {
    const { reached, store } = await walk(
      [
        ['root', { children: ['', 'a\u0000', 'x'.repeat(1025), '\ud800', 'ok'] }],
        ['ok', 1],
      ],
      ['root'],
    );
    expect(reached).toEqual(new Set(['root', 'ok']));
    expect([...store.asked.keys()]).toEqual(['root', 'ok']);
  });

  it('reads the frontier in chunks of at most 500 keys', async () => {
    const children = Array.from({ length: 1234 }, (_, i) => `c${i}`);
    const grandchildren = children.map((c): [string, unknown] => [c, { children: [`${c}/g`] }]);
    const { reached, store } = await walk([['root', { children }], ...grandchildren], ['root']);
    expect(reached.size).toBe(1 + 1234);
    expect(Math.max(...store.calls)).toBe(500);
    expect(store.calls).toEqual([1, 500, 500, 234, 500, 500, 234]);
  });

  it('honours a smaller chunk size', async () => {
    const children = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const { store } = await walk([['root', { children }]], ['root'], REFS, 7);
    expect(Math.max(...store.calls)).toBe(7);
  });

  it('fails with a clear error when the walk visits more keys than allowed', async () => {
    const chain: [string, unknown][] = Array.from({ length: 20 }, (_, i) => [`k${i}`, { children: [`k${i + 1}`] }]);
    const store = fakeStore(chain);
    const refsOf = compileRefs(REFS);
    await expect(walkReachable(store.read, ['k0'], refsOf, { maxKeys: 10 })).rejects.toThrow(WalkLimitError);
    await expect(walkReachable(store.read, ['k0'], refsOf, { maxKeys: 10 })).rejects.toThrow(/limit of 10 keys \(KEYSYNC_WALK_MAX_KEYS\)/);
    // 20 stored keys plus the dangling k20: exactly 21 names.
    expect((await walkReachable(store.read, ['k0'], refsOf, { maxKeys: 21 })).size).toBe(20);
  });

  it('reaches a value nested deeper than its depth budget but follows none of its refs', async () => {
    let deep: unknown = { address: 'hidden' };
    for (let i = 0; i < 3000; i++) deep = [deep];
    const store = fakeStore([
      ['root', { children: ['deep', 'ok'] }],
      ['deep', { address: 'via-deep', nest: deep }],
      ['ok', { address: 'via-ok' }],
      ['via-deep', 1],
      ['via-ok', 1],
      ['hidden', 1],
    ]);
    const skipped: string[] = [];
    const reached = await walkReachable(store.read, ['root'], compileRefs(REFS), {
      maxDepth: 1000,
      onSkipped: (key, limit) => skipped.push(`${key}:${limit}`),
    });
    expect([...reached].sort()).toEqual(['deep', 'ok', 'root', 'via-ok']);
    expect(skipped).toEqual(['deep:depth']);
    // $.children[*] alone never goes deep: the same value is walked in full.
    const shallow = await walkReachable(store.read, ['deep'], compileRefs(['$.address']), { maxDepth: 10 });
    expect([...shallow].sort()).toEqual(['deep', 'via-deep']);
  });

  it('evaluates $..a..a over two chains 1,000 deep in linear steps', async () => {
    const chain = (leaf: string) => JSON.parse('{"a":'.repeat(1000) + JSON.stringify(leaf) + '}'.repeat(1000));
    const result = await compileRefs(['$..a..a'])({ l: chain('k1'), r: chain('k2') });
    expect(result.ok && result.refs.sort()).toEqual(['k1', 'k2']);
    // Each segment touches each node at most once: about 3 segments x 2,000 nodes.
    expect(result.steps).toBeLessThan(20_000);
  });

  it('skips a value over its step budget and fails the walk over its total step budget', async () => {
    const wide = { children: Array.from({ length: 5000 }, (_, i) => `c${i}`) };
    const store = fakeStore([
      ['root', { children: ['wide', 'small'] }],
      ['wide', wide],
      ['small', { address: 'leaf' }],
      ['leaf', 1],
    ]);
    const skipped: string[] = [];
    const reached = await walkReachable(store.read, ['root'], compileRefs(REFS), { maxValueSteps: 1000, onSkipped: (k) => skipped.push(k) });
    expect([...reached].sort()).toEqual(['leaf', 'root', 'small', 'wide']);
    expect(skipped).toEqual(['wide']);
    await expect(walkReachable(store.read, ['root'], compileRefs(REFS), { maxSteps: 1000 })).rejects.toThrow(
      /limit of 1000 value nodes \(KEYSYNC_WALK_MAX_STEPS\)/,
    );
  });

  it('fails the walk past its time budget and gives the event loop turns while it runs', async () => {
    const chain: [string, unknown][] = Array.from({ length: 50 }, (_, i) => [`k${i}`, { children: [`k${i + 1}`] }]);
    const slow = fakeStore(chain);
    const read = async (keys: string[]) => {
      await new Promise((r) => setTimeout(r, 5));
      return slow.read(keys);
    };
    await expect(walkReachable(read, ['k0'], compileRefs(REFS), { timeoutMs: 50 })).rejects.toThrow(/KEYSYNC_WALK_TIMEOUT_MS/);

    // One big value: the timer below must fire during its evaluation.
    const big = { children: Array.from({ length: 100_000 }, (_, i) => ({ address: `x${i}` })) };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await walkReachable(fakeStore([['root', big]]).read, ['root'], compileRefs(['$..address']), { maxValueSteps: 10_000_000 });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(2);
  });

  it('equals naive reachability on random graphs', async () => {
    const graph = fc.record({
      size: fc.integer({ min: 1, max: 40 }),
      nodes: fc.array(
        fc.record({
          kind: fc.constantFrom('json', 'json', 'json', 'bytes', 'absent'),
          children: fc.array(fc.nat(45), { maxLength: 4 }),
          addresses: fc.array(fc.nat(45), { maxLength: 2 }),
        }),
        { minLength: 40, maxLength: 40 },
      ),
      roots: fc.array(fc.nat(45), { minLength: 1, maxLength: 3 }),
      chunkSize: fc.integer({ min: 1, max: 8 }),
    });
    await fc.assert(
      fc.asyncProperty(graph, async ({ size, nodes, roots, chunkSize }) => {
        const name = (i: number) => `n${i}`;
        const entries: [string, unknown][] = [];
        const edges = new Map<string, string[]>();
        nodes.slice(0, size).forEach((node, i) => {
          if (node.kind === 'absent') return;
          if (node.kind === 'bytes') {
            entries.push([name(i), BYTES]);
            edges.set(name(i), []);
            return;
          }
          // Addresses sit at varying depths to exercise `..`.
          const value = {
            children: node.children.map(name),
            meta: node.addresses.map((a, depth) => (depth === 0 ? { address: name(a) } : { deeper: { address: name(a) } })),
          };
          entries.push([name(i), value]);
          edges.set(name(i), [...node.children, ...node.addresses].map(name));
        });

        const naive = new Set<string>();
        const stack = roots.map(name);
        while (stack.length > 0) {
          const key = stack.pop()!;
          if (naive.has(key) || !edges.has(key)) continue;
          naive.add(key);
          stack.push(...edges.get(key)!);
        }

        const { reached, store } = await walk(entries, roots.map(name), REFS, chunkSize);
        expect(reached).toEqual(naive);
        expect(Math.max(0, ...store.calls)).toBeLessThanOrEqual(chunkSize);
        expect([...store.asked.values()].every((n) => n === 1)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('walks a tree of 100,000 nodes', async () => {
    const n = 100_000;
    const fanout = 10;
    // Values are made on demand, as a database would, so the test holds no store of values.
    const valueOf = (i: number) => {
      const children: string[] = [];
      for (let c = i * fanout + 1; c <= i * fanout + fanout && c < n; c++) children.push(`node/${c}`);
      return { children, meta: { owner: 'x', address: i % 97 === 0 ? 'node/0' : undefined } };
    };
    let calls = 0;
    let maxChunk = 0;
    const read = async (keys: string[]) => {
      calls++;
      maxChunk = Math.max(maxChunk, keys.length);
      return new Map(keys.map((k) => [k, valueOf(Number(k.slice(5)))]));
    };
    const policy = compilePolicy({ walk: { roots: ['node/0'], refs: REFS } });
    const started = performance.now();
    const reached = await policy.walk!(read);
    const ms = performance.now() - started;
    console.log(`walk of ${n} nodes: ${ms.toFixed(0)} ms, ${calls} reads, largest read ${maxChunk} keys`);
    expect(reached.size).toBe(n);
    expect(maxChunk).toBe(500);
  });
});
