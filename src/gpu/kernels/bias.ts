// Dispatch for bias add and bias grad (a column sum through rows.ts's deterministic column reduction).
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { biasAddWgsl } from './bias.wgsl';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { colReduce } from './rows';

export interface BiasAddArgs<S = GpuRegion> {
  x: S;
  bias: S;
  rows: number;
  cols: number;
}

/** x[r,c] += bias[c], in place, for x [rows, cols]. */
export function biasAdd(ctx: GpuContext, args: BiasAddArgs): void {
  const { rows, cols } = args;
  const n = rows * cols;
  if (n === 0) return;
  const L = planBindings('bias_add', [
    { name: 'x', region: args.x, write: true },
    { name: 'bias', region: args.bias, write: false },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`bias_add:${L.sig}`, 'bias_add', () => biasAddWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(n).u32(cols).data,
    workgroups: grid1d(n),
  });
}

export interface BiasGradArgs<S = GpuRegion> {
  dBias: S;
  dOut: S;
  rows: number;
  cols: number;
  accumulate?: boolean;
}

/** dBias[c] (+)= Σ_r dOut[r,c], for dOut [rows, cols]. */
export function biasGrad(ctx: GpuContext, args: BiasGradArgs): void {
  colReduce(
    ctx,
    'bias_grad',
    [{ name: 'dOut', region: args.dOut }],
    [{ dst: args.dBias, expr: (id) => `${id.dOut}[i]` }],
    args.rows,
    args.cols,
    args.accumulate ?? false,
  );
}
