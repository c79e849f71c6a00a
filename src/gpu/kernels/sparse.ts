// Dispatch for sparse fine-tuning's scatter-add (W += alpha·scatter(values), forward and merge) and gather
// (dValues = dW at the indices, the backward). idx is i32 [k] of distinct canonical [out, in] flat indices.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { gatherWgsl, scatterAddWgsl } from './sparse.wgsl';

export interface SparseDims {
  k: number;
  /** Canonical [rows=out, cols=in] of the weight. */
  rows: number;
  cols: number;
  /** The weight is stored [in, out]. */
  transposed: boolean;
}

export interface ScatterAddArgs<S = GpuRegion, I = S> extends SparseDims {
  w: S;
  values: S;
  idx: I;
  alpha?: number;
}

/** w[idx[j]] += alpha·values[j] for j < k (in place on w). */
export function scatterAdd(ctx: GpuContext, args: ScatterAddArgs): void {
  if (args.k === 0) return;
  const L = planBindings('scatter_add', [
    { name: 'values', region: args.values, write: false },
    { name: 'idx', region: args.idx, write: false, type: 'array<i32>' },
    { name: 'w', region: args.w, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`scatter_add:${L.sig}`, 'scatter_add', () => scatterAddWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(args.k)
      .u32(args.rows)
      .u32(args.cols)
      .u32(args.transposed ? 1 : 0)
      .f32(args.alpha ?? 1).data,
    workgroups: grid1d(args.k),
  });
}

export interface GatherArgs<S = GpuRegion, I = S> extends SparseDims {
  out: S;
  x: S;
  idx: I;
  accumulate?: boolean;
}

/** out[j] (+)= x[idx[j]] for j < k. */
export function gather(ctx: GpuContext, args: GatherArgs): void {
  if (args.k === 0) return;
  const L = planBindings('gather', [
    { name: 'x', region: args.x, write: false },
    { name: 'idx', region: args.idx, write: false, type: 'array<i32>' },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`gather:${L.sig}`, 'gather', () => gatherWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(args.k)
      .u32(args.rows)
      .u32(args.cols)
      .u32(args.transposed ? 1 : 0)
      .u32(args.accumulate ? 1 : 0).data,
    workgroups: grid1d(args.k),
  });
}
