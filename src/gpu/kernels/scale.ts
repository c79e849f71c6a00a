// Dispatch for scale (out (+)= alpha·x: residual scaling, gradient scaling) and mulVec (out[r,c] (+)=
// x[r,c]·v[c]: IA3 vectors, DoRA magnitudes) with mulVec's backward. Outputs may be their inputs (in
// place); they are allocated by the caller.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { colReduce } from './rows';
import { mulVecWgsl, scaleWgsl } from './scale.wgsl';

export interface ScaleArgs<S = GpuRegion> {
  out: S;
  x: S;
  n: number;
  alpha: number;
  accumulate?: boolean;
}

/** out[i] (+)= alpha·x[i] for i < n. Its backward is itself: dx (+)= alpha·dOut. */
export function scale(ctx: GpuContext, args: ScaleArgs): void {
  if (args.n === 0) return;
  const L = planBindings('scale', [
    { name: 'x', region: args.x, write: false },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`scale:${L.sig}`, 'scale', () => scaleWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(args.n)
      .f32(args.alpha)
      .u32(args.accumulate ? 1 : 0).data,
    workgroups: grid1d(args.n),
  });
}

export interface MulVecArgs<S = GpuRegion> {
  out: S;
  x: S;
  v: S;
  rows: number;
  cols: number;
  accumulate?: boolean;
}

/** out[r,c] (+)= x[r,c]·v[c] for x [rows, cols], v [cols]. */
export function mulVec(ctx: GpuContext, args: MulVecArgs): void {
  const n = args.rows * args.cols;
  if (n === 0) return;
  const L = planBindings('mulvec', [
    { name: 'x', region: args.x, write: false },
    { name: 'v', region: args.v, write: false },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`mulvec:${L.sig}`, 'mulvec', () => mulVecWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(n)
      .u32(args.cols)
      .u32(args.accumulate ? 1 : 0).data,
    workgroups: grid1d(n),
  });
}

export interface MulVecBackwardArgs<S = GpuRegion> {
  dx: S | null;
  dv: S | null;
  dOut: S;
  x: S;
  v: S;
  rows: number;
  cols: number;
  accumulateDx?: boolean;
  accumulateDv?: boolean;
}

/**
 * mulVec backward: dx[r,c] (+)= dOut[r,c]·v[c]; dv[c] (+)= Σ_r dOut[r,c]·x[r,c] (a deterministic column
 * sum). A null output is skipped (frozen v, or an input that needs no gradient).
 */
export function mulVecBackward(ctx: GpuContext, args: MulVecBackwardArgs): void {
  const { rows, cols } = args;
  // dv first: an in-place dx (dx === dOut) would otherwise overwrite the dOut it reads.
  if (args.dv) {
    colReduce(
      ctx,
      'mulvec_dv',
      [
        { name: 'dOut', region: args.dOut },
        { name: 'x', region: args.x },
      ],
      [{ dst: args.dv, expr: (id) => `${id.dOut}[i] * ${id.x}[i]` }],
      rows,
      cols,
      args.accumulateDv ?? false,
    );
  }
  if (args.dx)
    mulVec(ctx, { out: args.dx, x: args.dOut, v: args.v, rows, cols, accumulate: args.accumulateDx });
}
