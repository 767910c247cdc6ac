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
  },
});
