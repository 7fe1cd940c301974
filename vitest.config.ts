import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    // One test file at a time: the reliability and traffic tests measure timings and memory,
    // and on a 2-core machine files running side by side would measure each other instead.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-artifacts/vitest-results.json' },
    projects: [
      // Pure code and repository checks: no Consul, no Go, no sockets, no module state a test
      // relies on (`npm run test:unit`, ~6 s): all files share one worker instead of a fresh
      // process each (25 s that way, almost all of it process start-up and imports).
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/repo/**/*.test.ts'], isolate: false } },
      // Real Consul (one dev agent for the suite, built once by the global setup), real sockets.
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/reliability/**/*.test.ts', 'test/differential/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
