/**
 * Evaluates parsed ref paths over one JSON value with a bounded cost.
 *
 * Why not a general JSONPath engine: a walk only needs the set of strings a
 * path selects, and RFC 9535's node lists (duplicates kept, one result per
 * route) make `$..a..a` grow with the square of a value's depth and `$..*..*`
 * with the square of its size. Here every segment maps a *set* of nodes to a
 * set of nodes: a descendant segment visits each container of the value at
 * most once, so one path costs at most (segments × nodes) steps whatever its
 * shape. The traversal is iterative (no recursion, so nesting depth cannot
 * overflow the stack), counts every node it touches, and stops as soon as a
 * value's step or depth budget is spent.
 */
import type { PathSegment, Selector } from './path-segment.js';

export interface ValueBudget {
  /** nodes one value's evaluation may touch, all paths together */
  maxSteps: number;
  /** deepest nesting (0 = the value itself) a descendant segment may enter */
  maxDepth: number;
}

export type ValueRefs = { ok: true; refs: string[]; steps: number } | { ok: false; limit: 'steps' | 'depth'; steps: number };

/** How often (in steps) the evaluation offers the caller a chance to yield. */
const PAUSE_EVERY = 2048;

class OverBudget {
  constructor(readonly limit: 'steps' | 'depth') {}
}

/**
 * The strings `paths` select in `value` (a set: each string once per path),
 * or which budget the value exceeded. `pause` is awaited every few thousand
 * steps so a long evaluation can give the event loop a turn.
 *
 * @example await evaluateRefs([parse('$.children[*]')], {children: ['a', 1]}, budget) // {ok: true, refs: ['a'], steps: 3}
 */
export async function evaluateRefs(
  paths: readonly (readonly PathSegment[])[],
  value: unknown,
  budget: ValueBudget,
  pause?: () => Promise<void> | undefined,
): Promise<ValueRefs> {
  const state = { steps: 0 };
  // Counting stays synchronous (an await per node would cost more than the
  // node); the caller awaits `pause` only when a tick says so.
  const tick: Tick = () => {
    state.steps++;
    if (state.steps > budget.maxSteps) throw new OverBudget('steps');
    return pause !== undefined && state.steps % PAUSE_EVERY === 0;
  };
  const wait = async () => {
    await pause?.();
  };
  const refs: string[] = [];
  try {
    for (const segments of paths) {
      let nodes: unknown[] = [value];
      let depths: number[] = [0];
      for (const segment of segments) {
        if (segment.descendant) [nodes, depths] = await descendants(nodes, depths, budget.maxDepth, tick, wait);
        [nodes, depths] = await select(nodes, depths, segment.selector, tick, wait);
        if (nodes.length === 0) break;
      }
      for (const node of nodes) if (typeof node === 'string') refs.push(node);
    }
  } catch (err) {
    if (err instanceof OverBudget) return { ok: false, limit: err.limit, steps: state.steps };
    throw err;
  }
  return { ok: true, refs, steps: state.steps };
}

/** Counts one step; true when the evaluation should await a pause now. */
type Tick = () => boolean;

const isContainer = (node: unknown): node is object => typeof node === 'object' && node !== null;

/** Each node and everything below it, every container once (a set, in document order per root). */
async function descendants(nodes: unknown[], depths: number[], maxDepth: number, tick: Tick, wait: () => Promise<void>): Promise<[unknown[], number[]]> {
  const outNodes: unknown[] = [];
  const outDepths: number[] = [];
  const visited = new Set<object>();
  const stack: unknown[] = [];
  const stackDepths: number[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    stack.push(nodes[i]);
    stackDepths.push(depths[i]!);
  }
  while (stack.length > 0) {
    const node = stack.pop();
    const depth = stackDepths.pop()!;
    if (tick()) await wait();
    if (isContainer(node)) {
      if (visited.has(node)) continue;
      visited.add(node);
    }
    outNodes.push(node);
    outDepths.push(depth);
    if (!isContainer(node)) continue;
    if (depth + 1 > maxDepth) throw new OverBudget('depth');
    const children = Array.isArray(node) ? node : Object.values(node);
    for (let c = children.length - 1; c >= 0; c--) {
      stack.push(children[c]);
      stackDepths.push(depth + 1);
    }
  }
  return [outNodes, outDepths];
}

/** The children of each node that `selector` picks. */
async function select(nodes: unknown[], depths: number[], selector: Selector, tick: Tick, wait: () => Promise<void>): Promise<[unknown[], number[]]> {
  const outNodes: unknown[] = [];
  const outDepths: number[] = [];
  const take = (child: unknown, depth: number): boolean => {
    outNodes.push(child);
    outDepths.push(depth + 1);
    return tick();
  };
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    const depth = depths[i]!;
    if (!isContainer(node)) continue;
    const array = Array.isArray(node) ? (node as unknown[]) : undefined;
    switch (selector.type) {
      case 'name':
        if (!array && Object.hasOwn(node, selector.name) && take((node as Record<string, unknown>)[selector.name], depth)) await wait();
        break;
      case 'wildcard':
        for (const child of array ?? Object.values(node)) if (take(child, depth)) await wait();
        break;
      case 'index': {
        if (!array) break;
        const at = selector.index >= 0 ? selector.index : array.length + selector.index;
        if (at >= 0 && at < array.length && take(array[at], depth)) await wait();
        break;
      }
      case 'slice': {
        if (!array) break;
        const [from, to] = sliceBounds(array.length, selector.start, selector.end);
        for (let at = from; at < to; at += selector.step ?? 1) if (take(array[at], depth)) await wait();
        break;
      }
    }
  }
  return [outNodes, outDepths];
}

/** RFC 9535 slice bounds for a positive step: negatives count from the end, then clamp. */
function sliceBounds(length: number, start = 0, end = length): [number, number] {
  const norm = (i: number) => (i >= 0 ? i : length + i);
  return [Math.min(Math.max(norm(start), 0), length), Math.min(Math.max(norm(end), 0), length)];
}
