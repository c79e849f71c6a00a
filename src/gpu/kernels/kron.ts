// Dispatch for the Kronecker product (kron.wgsl.ts): out (+)= alpha·(a ⊗ b), written [a0·b0, a1·b1] or
// transposed, and its backward (da, db from dOut). LoKr builds ΔW = s·(w1 ⊗ w2) with it, on the tape and
// when merging. Inputs may be views of one flat parameter buffer, gradients views of one flat gradient
// buffer: bindings go through the shared planner.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { kronGradWgsl, kronWgsl } from './kron.wgsl';

export interface KronDims {
  a0: number;
  a1: number;
  b0: number;
  b1: number;
  alpha: number;
}

const uniforms = (d: KronDims, flag: boolean, acc: boolean) =>
  new Uniforms()
    .u32(d.a0)
    .u32(d.a1)
    .u32(d.b0)
    .u32(d.b1)
    .f32(d.alpha)
    .u32(flag ? 1 : 0)
    .u32(acc ? 1 : 0).data;

export interface KronArgs<S = GpuRegion> extends KronDims {
  out: S;
  a: S;
  b: S;
  transOut?: boolean;
  accumulate?: boolean;
}

/** out[(p·b0+k), (q·b1+l)] (+)= alpha·a[p,q]·b[k,l]; with transOut the [a1·b1, a0·b0] transpose. */
export function kron(ctx: GpuContext, args: KronArgs): void {
  const n = args.a0 * args.b0 * args.a1 * args.b1;
  if (n === 0) return;
  const L = planBindings('kron', [
    { name: 'a', region: args.a, write: false },
    { name: 'b', region: args.b, write: false },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`kron:${L.sig}`, 'kron', () => kronWgsl(L)),
    buffers: L.buffers,
    uniforms: uniforms(args, args.transOut ?? false, args.accumulate ?? false),
    workgroups: grid1d(n),
  });
}

export interface KronBackwardArgs<S = GpuRegion> extends KronDims {
  da: S | null;
  db: S | null;
  dOut: S;
  a: S;
  b: S;
  accumulateDa?: boolean;
  accumulateDb?: boolean;
}

/** da (+)= alpha·Σ_blocks dOut·b, db (+)= alpha·Σ_blocks dOut·a, for dOut [a0·b0, a1·b1]; null skips. */
export function kronBackward(ctx: GpuContext, args: KronBackwardArgs): void {
  const one = (d: GpuRegion, other: GpuRegion, right: boolean, acc: boolean) => {
    const n = right ? args.b0 * args.b1 : args.a0 * args.a1;
    if (n === 0) return;
    const L = planBindings('kron_grad', [
      { name: 'g', region: args.dOut, write: false },
      { name: 'other', region: other, write: false },
      { name: 'd', region: d, write: true },
    ]);
    ctx.dispatch({
      kernel: memoKernel(`kron_grad:${L.sig}`, 'kron_grad', () => kronGradWgsl(L)),
      buffers: L.buffers,
      uniforms: uniforms(args, right, acc),
      workgroups: grid1d(n, 64),
    });
  };
  if (args.da) one(args.da, args.b, false, args.accumulateDa ?? false);
  if (args.db) one(args.db, args.a, true, args.accumulateDb ?? false);
}
