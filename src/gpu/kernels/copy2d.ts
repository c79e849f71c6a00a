// Dispatch for the strided 2-D copy: out[dstOffset + r·dstStride + c] (+)= x[srcOffset + r·srcStride + c].
// Its backward is the same copy with source and destination swapped, so there is no backward kernel.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { grid1d } from './common';
import { copy2dWgsl } from './copy2d.wgsl';

const COPY = { key: 'copy2d', label: 'copy2d', code: copy2dWgsl(false) };
const COPY_ACC = { key: 'copy2d_acc', label: 'copy2d_accumulate', code: copy2dWgsl(true) };

export interface Copy2dArgs<S = GpuRegion> {
  out: S;
  x: S;
  rows: number;
  cols: number;
  srcStride: number;
  srcOffset: number;
  dstStride: number;
  dstOffset: number;
  accumulate?: boolean;
}

export function copy2d(ctx: GpuContext, a: Copy2dArgs): void {
  const u = new Uniforms()
    .u32(a.rows)
    .u32(a.cols)
    .u32(a.srcStride)
    .u32(a.srcOffset)
    .u32(a.dstStride)
    .u32(a.dstOffset);
  ctx.dispatch({
    kernel: a.accumulate ? COPY_ACC : COPY,
    buffers: [a.out, a.x],
    uniforms: u.data,
    workgroups: grid1d(a.rows * a.cols),
  });
}
