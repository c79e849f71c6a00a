// Dispatch for RMSNorm (HF LlamaRMSNorm) forward and backward over x [rows, cols]; rstd [rows] is saved by
// the forward. Outputs are allocated by the caller. Row variant choice from rows.ts (rowVariant).
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { rmsNormDxWgsl, rmsNormWgsl } from './rmsnorm.wgsl';
import { colReduce } from './rows';
import { normGrid, normVariant } from './rows-subgroup';

export interface RmsNormArgs<S = GpuRegion> {
  out: S;
  rstd: S;
  x: S;
  gamma: S;
  rows: number;
  cols: number;
  eps: number;
}

/** out = x·rsqrt(mean(x²) + eps)·gamma per row; rstd [rows] saved for backward. */
export function rmsNorm(ctx: GpuContext, args: RmsNormArgs): void {
  const { rows, cols } = args;
  if (rows === 0 || cols === 0) return;
  const v = normVariant(ctx, rows, cols);
  const L = planBindings('rmsnorm', [
    { name: 'x', region: args.x, write: false },
    { name: 'gamma', region: args.gamma, write: false },
    { name: 'out', region: args.out, write: true },
    { name: 'rstd', region: args.rstd, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`rmsnorm:${v}:${L.sig}`, `rmsnorm_${v}`, () => rmsNormWgsl(L, v)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(rows).u32(cols).f32(args.eps).u32(0).data,
    workgroups: normGrid(v, rows),
  });
}

export interface RmsNormBackwardArgs<S = GpuRegion> {
  dx: S | null;
  dGamma: S | null;
  dOut: S;
  x: S;
  rstd: S;
  gamma: S;
  rows: number;
  cols: number;
  accumulateDx?: boolean;
  accumulateParams?: boolean;
}

/**
 * RMSNorm backward from the saved rstd. A null dx or dGamma is skipped; accumulateDx / accumulateParams
 * add into dx / dGamma instead of overwriting.
 */
export function rmsNormBackward(ctx: GpuContext, args: RmsNormBackwardArgs): void {
  const { rows, cols } = args;
  if (args.dx && rows > 0 && cols > 0) {
    const v = normVariant(ctx, rows, cols);
    const L = planBindings('rmsnorm_dx', [
      { name: 'dOut', region: args.dOut, write: false },
      { name: 'x', region: args.x, write: false },
      { name: 'rstd', region: args.rstd, write: false },
      { name: 'gamma', region: args.gamma, write: false },
      { name: 'dx', region: args.dx, write: true },
    ]);
    ctx.dispatch({
      kernel: memoKernel(`rmsnorm_dx:${v}:${L.sig}`, `rmsnorm_dx_${v}`, () => rmsNormDxWgsl(L, v)),
      buffers: L.buffers,
      uniforms: new Uniforms()
        .u32(rows)
        .u32(cols)
        .u32(args.accumulateDx ? 1 : 0)
        .u32(0).data,
      workgroups: normGrid(v, rows),
    });
  }
  if (!args.dGamma) return;
  // dGamma[c] = Σ_r dOut·x·rstd
  colReduce(
    ctx,
    'rmsnorm_dgamma',
    [
      { name: 'dOut', region: args.dOut },
      { name: 'x', region: args.x },
      { name: 'rstd', region: args.rstd },
    ],
    [{ dst: args.dGamma, expr: (id) => `${id.dOut}[i] * ${id.x}[i] * ${id.rstd}[r]` }],
    rows,
    cols,
    args.accumulateParams ?? false,
  );
}
