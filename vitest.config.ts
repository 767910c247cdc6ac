import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-moto.ts'],
    setupFiles: ['test/setup/env.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most suites wait on the emulator or on timers, not on the CPU: overlap them.
    poolOptions: { forks: { minForks: 1, maxForks: 3 } },
    reporters: ['default'],
    // `npm test` runs with --coverage; a targeted `npx vitest run <file>` does not.
    coverage: {
      provider: 'v8',
      include: ['lambdas/**/*.ts', 'layers/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      thresholds: {
        // The capabilities' domain logic, all of it together (measured 93-98 % per capability).
        'lambdas/*/core/**': { lines: 90 },
        // Everything the Lambda functions run.
        'lambdas/**': { lines: 90 },
      },
    },
  },
});
