// The GPU kernels generation's fast decode path calls through its DecodeAccel hook (model/generate.ts):
// GEMV for the decode step's few-row matmuls, and one dispatch for several projections of one input
// (q/k/v, gate/up: gemv-multi.ts). The model layer cannot reach the GPU context through the
// backend interface, so the CLI, the worker and the bench build this from their context and pass it in.

import type { GpuRegion } from './arena';
import type { GpuContext } from './context';
import { gemv } from './kernels/gemv';
import { type GemvMultiArgs, gemvMulti } from './kernels/gemv-multi';
import type { MatmulArgs } from './kernels/matmul';

export interface GpuDecodeAccel {
  matmul(p: MatmulArgs<GpuRegion>): boolean;
  linears(p: GemvMultiArgs<GpuRegion>): boolean;
}

export function gpuDecodeAccel(ctx: GpuContext): GpuDecodeAccel {
  return { matmul: (p) => gemv(ctx, p), linears: (p) => gemvMulti(ctx, p) };
}
