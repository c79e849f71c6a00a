// Dispatch for the `rows` method's index maps (rowindex.wgsl.ts): indexAdd scatters k compact rows into
// the chosen rows (or columns) of a matrix — the forward's output columns, the merge's weight rows — and
// indexGather reads them back (the backward). idx is i32 [k] of distinct row numbers below the target's
// row (byColumn: column) count.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { indexAddWgsl, indexGatherWgsl } from './rowindex.wgsl';

export interface RowIndexDims {
  /** Rows of the compact operand [k, len]. */
  k: number;
  len: number;
  /** Row width of the indexed matrix. */
  cols: number;
  /** idx picks columns of a [len, cols] matrix (element l·cols + idx[i]), else rows of [*, cols]. */
  byColumn: boolean;
}

export interface IndexAddArgs<S = GpuRegion, I = S> extends RowIndexDims {
  out: S;
  x: S;
  idx: I;
  alpha?: number;
}

/** out[pos(i, l)] += alpha·x[i·len + l] for i < k, l < len (in place on out). */
export function indexAdd(ctx: GpuContext, args: IndexAddArgs): void {
  if (args.k === 0 || args.len === 0) return;
  const L = planBindings('index_add', [
    { name: 'x', region: args.x, write: false },
    { name: 'idx', region: args.idx, write: false, type: 'array<i32>' },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`index_add:${L.sig}`, 'index_add', () => indexAddWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(args.k)
      .u32(args.len)
      .u32(args.cols)
      .u32(args.byColumn ? 1 : 0)
      .f32(args.alpha ?? 1).data,
    workgroups: grid1d(args.k * args.len),
  });
}

export interface IndexGatherArgs<S = GpuRegion, I = S> extends RowIndexDims {
  out: S;
  x: S;
  idx: I;
  accumulate?: boolean;
}

/** out[i·len + l] (+)= x[pos(i, l)]. */
export function indexGather(ctx: GpuContext, args: IndexGatherArgs): void {
  if (args.k === 0 || args.len === 0) return;
  const L = planBindings('index_gather', [
    { name: 'x', region: args.x, write: false },
    { name: 'idx', region: args.idx, write: false, type: 'array<i32>' },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`index_gather:${L.sig}`, 'index_gather', () => indexGatherWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(args.k)
      .u32(args.len)
      .u32(args.cols)
      .u32(args.byColumn ? 1 : 0)
      .u32(args.accumulate ? 1 : 0).data,
    workgroups: grid1d(args.k * args.len),
  });
}
