// Test access to one Dawn device per test file (vitest forks a process per file), plus upload/read
// shortcuts. Tests import from here rather than calling acquireNodeGpu themselves.
import type { MemoryCategory } from '../../src/gpu/arena';
import type { GpuContext } from '../../src/gpu/context';
import { acquireNodeGpu } from '../../src/gpu/node';

const contexts = new Map<boolean, Promise<GpuContext>>();

/**
 * The file's device. By default it withholds what the suite's PEFT_GPU_WITHOUT names (vitest.config.ts:
 * subgroups), so the portable kernels run; `allFeatures` asks for everything the adapter has, for the files
 * about the subgroup kernels and for whole-model checks on SwiftShader's own defaults (quad kernels). One
 * device of each kind per file.
 */
export function testGpu(options: { allFeatures?: boolean } = {}): Promise<GpuContext> {
  const all = options.allFeatures ?? false;
  let ctx = contexts.get(all);
  if (!ctx) {
    ctx = acquireNodeGpu({ quiet: true, ...(all ? { withoutFeatures: [] } : {}) });
    contexts.set(all, ctx);
  }
  return ctx;
}

export function up(
  ctx: GpuContext,
  data: ArrayLike<number>,
  category: MemoryCategory = 'workspace',
  label = 'test',
) {
  return ctx.upload(Float32Array.from(data), category, label);
}
