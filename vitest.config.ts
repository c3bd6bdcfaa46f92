import { defineConfig } from 'vitest/config';

// One database per test file (see test/support/db.ts); files run in parallel
// on the two cores, tests inside a file run in order.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'clients/typescript/test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
