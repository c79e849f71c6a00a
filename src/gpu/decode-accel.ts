// The GPU kernels generation's fast decode path calls through its DecodeAccel hook (model/generate.ts):
// GEMV for the decode step's few-row matmuls. The model layer cannot reach the GPU context through the
// backend interface, so the CLI, the worker and the bench build this from their context and pass it in.

import type { GpuRegion } from './arena';
import type { GpuContext } from './context';
import { gemv } from './kernels/gemv';
import type { MatmulArgs } from './kernels/matmul';

export interface GpuDecodeAccel {
  matmul(p: MatmulArgs<GpuRegion>): boolean;
}

export function gpuDecodeAccel(ctx: GpuContext): GpuDecodeAccel {
  return { matmul: (p) => gemv(ctx, p) };
}
