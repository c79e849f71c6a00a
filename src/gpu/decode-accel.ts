// The GPU kernel generation's fast decode path calls through its DecodeAccel hook (model/generate.ts):
// one dispatch for several single-row projections of one input (q/k/v, gate/up: gemv-multi.ts). Few-row
// matmuls need no hook, as matmul() hands them to GEMV itself. The model layer cannot reach the GPU
// context through the backend interface, so the CLI, the worker and the bench build this from their
// context and pass it in.

import type { GpuRegion } from './arena';
import type { GpuContext } from './context';
import { type GemvMultiArgs, gemvMulti } from './kernels/gemv-multi';

export interface GpuDecodeAccel {
  linears(p: GemvMultiArgs<GpuRegion>): boolean;
}

export function gpuDecodeAccel(ctx: GpuContext): GpuDecodeAccel {
  return { linears: (p) => gemvMulti(ctx, p) };
}
