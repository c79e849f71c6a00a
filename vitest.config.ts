// Unit tests run in Node; GPU tests go through Dawn (the `webgpu` package). Forks, not threads:
// Dawn's native addon is not safe to load in several worker threads of one process.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
