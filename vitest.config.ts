import { defineConfig } from 'vitest/config';

/**
 * Long soaks, random-model runs and fault injections (killed servers and
 * databases, slow clients): `npm run test:slow`, which CI runs as well.
 * `npm test` runs the rest. A file named on the command line always runs.
 */
const SLOW_TESTS = [
  'test/fault/**/*.test.ts',
  'test/property/model.test.ts',
  'test/options-http/model.test.ts',
  'test/security/fuzz.test.ts',
  // Memory and stall measurements against separate server processes, and timeouts waited out in full.
  'test/adversarial/feed-memory.test.ts',
  'test/adversarial/walk-budget.test.ts',
  'test/adversarial/config-and-logs.test.ts',
];

const set = process.env['KEYSYNC_TESTS'] ?? 'fast';
const namesFiles = process.argv.slice(2).some((arg) => /(^|\/)(test|clients|packages)\/|\.test\.ts$/.test(arg));
const ALL = ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'clients/typescript/test/**/*.test.ts'];

/** The workspace packages (@keysync/protocol, @keysync/client) from source, as tsc and esbuild take them. */
const SOURCE_CONDITIONS = ['keysync-source', 'module', 'node', 'development|production'];

// One database per test file (see test/support/db.ts); files run in parallel
// on the two cores, tests inside a file run in order.
export default defineConfig({
  resolve: { conditions: SOURCE_CONDITIONS },
  ssr: { resolve: { conditions: SOURCE_CONDITIONS } },
  test: {
    include: set === 'slow' && !namesFiles ? SLOW_TESTS : ALL,
    exclude: set === 'fast' && !namesFiles ? ['**/node_modules/**', ...SLOW_TESTS] : ['**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
