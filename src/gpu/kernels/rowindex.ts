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
  dispatchIndexed(ctx, 'index_add', indexAddWgsl, args, (u) => u.f32(args.alpha ?? 1));
}

export interface IndexGatherArgs<S = GpuRegion, I = S> extends RowIndexDims {
  out: S;
  x: S;
  idx: I;
  accumulate?: boolean;
}

/** out[i·len + l] (+)= x[pos(i, l)]. */
export function indexGather(ctx: GpuContext, args: IndexGatherArgs): void {
  dispatchIndexed(ctx, 'index_gather', indexGatherWgsl, args, (u) => u.u32(args.accumulate ? 1 : 0));
}

/** The two kernels' shared dispatch: x, idx, out bound alike, then k, len, cols, byColumn and one last
 * uniform of their own (add's alpha, gather's accumulate flag). */
function dispatchIndexed(
  ctx: GpuContext,
  name: 'index_add' | 'index_gather',
  wgsl: (L: ReturnType<typeof planBindings>) => string,
  args: RowIndexDims & { out: GpuRegion; x: GpuRegion; idx: GpuRegion },
  last: (u: Uniforms) => Uniforms,
): void {
  if (args.k === 0 || args.len === 0) return;
  const L = planBindings(name, [
    { name: 'x', region: args.x, write: false },
    { name: 'idx', region: args.idx, write: false, type: 'array<i32>' },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`${name}:${L.sig}`, name, () => wgsl(L)),
    buffers: L.buffers,
    uniforms: last(
      new Uniforms()
        .u32(args.k)
        .u32(args.len)
        .u32(args.cols)
        .u32(args.byColumn ? 1 : 0),
    ).data,
    workgroups: grid1d(args.k * args.len),
  });
}
