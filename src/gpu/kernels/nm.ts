// Dispatch for N:M structured sparse updates (nm.wgsl.ts): the forward y (+)= x·ΔWᵀ and its two
// gradients, computed from the compact values [out·in·n/m] and their flat canonical [out, in] indices
// (sorted, exactly n per group of m inputs in every row). Activations x [rows, in], y [rows, out]; the
// weight's stored layout does not enter (only merge touches the weight, through sparse's scatterAdd).
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { nmGradInputWgsl, nmGradValuesWgsl, nmMatmulWgsl } from './nm.wgsl';

export interface NmDims {
  /** Rows of the activations (tokens). */
  rows: number;
  outF: number;
  /** A multiple of m. */
  inF: number;
  n: number;
  m: number;
}

/** Values per output row. */
export const nmPerRow = (d: Pick<NmDims, 'inF' | 'n' | 'm'>): number => (d.inF / d.m) * d.n;

export interface NmMatmulArgs<S = GpuRegion, I = S> extends NmDims {
  y: S;
  x: S;
  v: S;
  idx: I;
  accumulate?: boolean;
}

export interface NmGradValuesArgs<S = GpuRegion, I = S> extends NmDims {
  dv: S;
  dy: S;
  x: S;
  idx: I;
  accumulate?: boolean;
}

export interface NmGradInputArgs<S = GpuRegion, I = S> extends NmDims {
  dx: S;
  dy: S;
  v: S;
  idx: I;
  accumulate?: boolean;
}

const uniforms = (d: NmDims, acc: boolean | undefined) =>
  new Uniforms()
    .u32(d.rows)
    .u32(d.outF)
    .u32(d.inF)
    .u32(d.n)
    .u32(d.m)
    .u32(acc ? 1 : 0).data;

function check(d: NmDims): void {
  if (d.inF % d.m !== 0 || d.n < 1 || d.n > d.m)
    throw new Error(`nm: ${d.n}:${d.m} does not tile ${d.inF} inputs`);
}

/** y[r, o] (+)= Σ_c ΔW[o, c]·x[r, c]. */
export function nmMatmul(ctx: GpuContext, a: NmMatmulArgs): void {
  check(a);
  if (a.rows * a.outF === 0) return;
  const L = planBindings('nm_matmul', [
    { name: 'x', region: a.x, write: false },
    { name: 'v', region: a.v, write: false },
    { name: 'idx', region: a.idx, write: false, type: 'array<i32>' },
    { name: 'y', region: a.y, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`nm_matmul:${L.sig}`, 'nm_matmul', () => nmMatmulWgsl(L)),
    buffers: L.buffers,
    uniforms: uniforms(a, a.accumulate),
    workgroups: grid1d(a.rows * a.outF),
  });
}

/** dv[e] (+)= Σ_r dy[r, o(e)]·x[r, col(e)]. */
export function nmGradValues(ctx: GpuContext, a: NmGradValuesArgs): void {
  check(a);
  const k = a.outF * nmPerRow(a);
  if (k === 0) return;
  const L = planBindings('nm_grad_values', [
    { name: 'dy', region: a.dy, write: false },
    { name: 'x', region: a.x, write: false },
    { name: 'idx', region: a.idx, write: false, type: 'array<i32>' },
    { name: 'dv', region: a.dv, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`nm_grad_values:${L.sig}`, 'nm_grad_values', () => nmGradValuesWgsl(L)),
    buffers: L.buffers,
    uniforms: uniforms(a, a.accumulate),
    workgroups: grid1d(k),
  });
}

/** dx[r, c] (+)= Σ_o dy[r, o]·ΔW[o, c] (one thread per row and group of m inputs). */
export function nmGradInput(ctx: GpuContext, a: NmGradInputArgs): void {
  check(a);
  if (a.rows * a.inF === 0) return;
  const L = planBindings('nm_grad_input', [
    { name: 'dy', region: a.dy, write: false },
    { name: 'v', region: a.v, write: false },
    { name: 'idx', region: a.idx, write: false, type: 'array<i32>' },
    { name: 'dx', region: a.dx, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`nm_grad_input:${a.m}:${L.sig}`, 'nm_grad_input', () => nmGradInputWgsl(L, a.m)),
    buffers: L.buffers,
    uniforms: uniforms(a, a.accumulate),
    workgroups: grid1d(a.rows * (a.inF / a.m)),
  });
}
