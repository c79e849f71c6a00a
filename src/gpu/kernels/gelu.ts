// Dispatch for GELU (GPT-2 "gelu_new", tanh approximation) forward and backward over n elements. `out` may
// be `x` itself and `dx` may be `dOut` itself (in place); outputs are allocated by the caller.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { dispatchPlanned } from './bindings';
import { grid1d } from './common';
import { geluBackwardWgsl, geluWgsl } from './gelu.wgsl';

export interface GeluArgs<S = GpuRegion> {
  out: S;
  x: S;
  n: number;
}

/** out[i] = gelu_new(x[i]). */
export function gelu(ctx: GpuContext, args: GeluArgs): void {
  if (args.n === 0) return;
  dispatchPlanned(ctx, {
    label: 'gelu',
    bindings: [
      { name: 'x', region: args.x, write: false },
      { name: 'out', region: args.out, write: true },
    ],
    code: (L) => geluWgsl(L),
    uniforms: new Uniforms().u32(args.n).data,
    workgroups: grid1d(args.n),
  });
}

export interface GeluBackwardArgs<S = GpuRegion> {
  dx: S;
  dOut: S;
  x: S;
  n: number;
  accumulate?: boolean;
}

/** dx[i] (+)= dOut[i]·gelu_new'(x[i]). */
export function geluBackward(ctx: GpuContext, args: GeluBackwardArgs): void {
  if (args.n === 0) return;
  dispatchPlanned(ctx, {
    label: 'gelu_backward',
    bindings: [
      { name: 'dOut', region: args.dOut, write: false },
      { name: 'x', region: args.x, write: false },
      { name: 'dx', region: args.dx, write: true },
    ],
    code: (L) => geluBackwardWgsl(L),
    uniforms: new Uniforms().u32(args.n).u32(args.accumulate ? 1 : 0).data,
    workgroups: grid1d(args.n),
  });
}
