// Dispatch for LayerNorm (PyTorch semantics: biased variance, eps inside the sqrt) forward and backward
// over x [rows, cols]. Outputs are allocated by the caller; mean and rstd [rows] are saved by the forward
// for the backward. The row-variant choice and the column reduction live in rows.ts.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { layerNormDxWgsl, layerNormWgsl } from './layernorm.wgsl';
import { type ColTerm, colReduce } from './rows';
import { normGrid, normVariant } from './rows-subgroup';

export interface LayerNormArgs<S = GpuRegion> {
  out: S;
  mean: S;
  rstd: S;
  x: S;
  gamma: S;
  beta: S;
  rows: number;
  cols: number;
  eps: number;
}

/** out = LayerNorm(x)·gamma + beta per row of x [rows, cols]; mean, rstd [rows] saved for backward. */
export function layerNorm(ctx: GpuContext, args: LayerNormArgs): void {
  const { rows, cols } = args;
  if (rows === 0 || cols === 0) return;
  const v = normVariant(ctx, rows, cols);
  const L = planBindings('layernorm', [
    { name: 'x', region: args.x, write: false },
    { name: 'gamma', region: args.gamma, write: false },
    { name: 'beta', region: args.beta, write: false },
    { name: 'out', region: args.out, write: true },
    { name: 'mean', region: args.mean, write: true },
    { name: 'rstd', region: args.rstd, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`layernorm:${v}:${L.sig}`, `layernorm_${v}`, () => layerNormWgsl(L, v)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(rows).u32(cols).f32(args.eps).u32(0).data,
    workgroups: normGrid(v, rows),
  });
}

export interface LayerNormBackwardArgs<S = GpuRegion> {
  dx: S | null;
  dGamma: S | null;
  dBeta: S | null;
  dOut: S;
  x: S;
  mean: S;
  rstd: S;
  gamma: S;
  rows: number;
  cols: number;
  accumulateDx?: boolean;
  accumulateParams?: boolean;
}

/**
 * LayerNorm backward from the saved mean/rstd. Each null output is skipped (no dx for an input that needs
 * none, no dGamma/dBeta for frozen parameters). accumulateDx adds into dx (a residual stream's gradient);
 * accumulateParams adds into dGamma/dBeta (gradient accumulation).
 */
export function layerNormBackward(ctx: GpuContext, args: LayerNormBackwardArgs): void {
  const { rows, cols } = args;
  if (args.dx && rows > 0 && cols > 0) {
    const v = normVariant(ctx, rows, cols);
    const L = planBindings('layernorm_dx', [
      { name: 'dOut', region: args.dOut, write: false },
      { name: 'x', region: args.x, write: false },
      { name: 'mean', region: args.mean, write: false },
      { name: 'rstd', region: args.rstd, write: false },
      { name: 'gamma', region: args.gamma, write: false },
      { name: 'dx', region: args.dx, write: true },
    ]);
    ctx.dispatch({
      kernel: memoKernel(`layernorm_dx:${v}:${L.sig}`, `layernorm_dx_${v}`, () => layerNormDxWgsl(L, v)),
      buffers: L.buffers,
      uniforms: new Uniforms()
        .u32(rows)
        .u32(cols)
        .u32(args.accumulateDx ? 1 : 0)
        .u32(0).data,
      workgroups: normGrid(v, rows),
    });
  }
  // dGamma[c] = Σ_r dOut·xhat, dBeta[c] = Σ_r dOut: one column pass for both when both train.
  const terms: ColTerm[] = [];
  if (args.dGamma)
    terms.push({
      dst: args.dGamma,
      expr: (id) => `${id.dOut}[i] * (${id.x}[i] - ${id.mean}[r]) * ${id.rstd}[r]`,
    });
  if (args.dBeta) terms.push({ dst: args.dBeta, expr: (id) => `${id.dOut}[i]` });
  if (terms.length === 0) return;
  const inputs = [{ name: 'dOut', region: args.dOut }];
  if (args.dGamma)
    inputs.push(
      { name: 'x', region: args.x },
      { name: 'mean', region: args.mean },
      { name: 'rstd', region: args.rstd },
    );
  const op = `layernorm_dparams_${args.dGamma ? 'g' : ''}${args.dBeta ? 'b' : ''}`;
  colReduce(ctx, op, inputs, terms, rows, cols, args.accumulateParams ?? false);
}
