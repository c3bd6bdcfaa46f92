/**
 * Just enough of vitest's API (describe, it, expect) to run a shared test
 * module in a page: `expect` is vitest's own (@vitest/expect on chai), the
 * runner records each test's outcome for the Node side to assert on.
 */
import { chai, GLOBAL_EXPECT, JestAsymmetricMatchers, JestChaiExpect, JestExtend, setState } from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

export const expect = ((value: unknown, message?: string) => chai.expect(value, message)) as unknown as typeof import('vitest').expect;
Object.assign(expect, chai.expect);
setState({ assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null }, expect as never);
(globalThis as Record<symbol, unknown>)[GLOBAL_EXPECT] = expect;

interface Case {
  name: string;
  fn: (ctx: { skip(): never }) => unknown;
}
const cases: Case[] = [];
const prefixes: string[] = [];

export function describe(name: string, body: () => void): void {
  prefixes.push(name);
  try {
    body();
  } finally {
    prefixes.pop();
  }
}

export function it(name: string, fn: Case['fn']): void {
  cases.push({ name: [...prefixes, name].join(' > '), fn });
}

const SKIP = Symbol('skip');

export interface Outcome {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  error?: string;
}

/** Runs every registered test in order. */
export async function runAll(): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const c of cases) {
    try {
      await c.fn({
        skip: () => {
          throw SKIP;
        },
      });
      out.push({ name: c.name, status: 'passed' });
    } catch (error) {
      if (error === SKIP) out.push({ name: c.name, status: 'skipped' });
      else out.push({ name: c.name, status: 'failed', error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
    }
  }
  return out;
}
