// Test access to one Dawn device per test file (vitest forks a process per file), plus upload/read
// shortcuts. Tests import from here rather than calling acquireNodeGpu themselves.
import type { MemoryCategory } from '../../src/gpu/arena';
import type { GpuContext } from '../../src/gpu/context';
import { acquireNodeGpu } from '../../src/gpu/node';

let ctxPromise: Promise<GpuContext> | null = null;

export function testGpu(): Promise<GpuContext> {
  if (!ctxPromise) ctxPromise = acquireNodeGpu({ quiet: true });
  return ctxPromise;
}

export function up(
  ctx: GpuContext,
  data: ArrayLike<number>,
  category: MemoryCategory = 'workspace',
  label = 'test',
) {
  return ctx.upload(Float32Array.from(data), category, label);
}
