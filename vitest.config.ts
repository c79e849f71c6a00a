// Unit tests run in Node; GPU tests go through Dawn (the `webgpu` package). Forks, not threads:
// Dawn's native addon is not safe to load in several worker threads of one process.
//
// The suite's devices withhold `subgroups` (PEFT_GPU_WITHOUT, read by gpu/node.ts; CLI child processes
// inherit it), so whole-model tests run the portable kernels a browser without subgroups gets. Why: on
// SwiftShader the quad kernels take 3-5x longer to compile (0.5-3 s per pipeline), and compiling them in
// every test process made up most of the suite's time. The files about the subgroup kernels ask for every
// feature (testGpu({ allFeatures: true })), and the Playwright pages run the page's own defaults.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    env: { PEFT_GPU_WITHOUT: 'subgroups' },
  },
});
