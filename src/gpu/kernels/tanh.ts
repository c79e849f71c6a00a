// Dispatch for tanh forward and backward over n elements. `out` may be `x` itself and `dx` may be `dOut`
// itself (in place, through the shared binding planner); outputs are allocated by the caller.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { dispatchPlanned } from './bindings';
import { grid1d } from './common';
import { tanhBackwardWgsl, tanhWgsl } from './tanh.wgsl';

export interface TanhArgs<S = GpuRegion> {
  out: S;
  x: S;
  n: number;
}

/** out[i] = tanh(x[i]). */
export function tanh(ctx: GpuContext, args: TanhArgs): void {
  if (args.n === 0) return;
  dispatchPlanned(ctx, {
    label: 'tanh',
    bindings: [
      { name: 'x', region: args.x, write: false },
      { name: 'out', region: args.out, write: true },
    ],
    code: (L) => tanhWgsl(L),
    uniforms: new Uniforms().u32(args.n).data,
    workgroups: grid1d(args.n),
  });
}

export interface TanhBackwardArgs<S = GpuRegion> {
  dx: S;
  dOut: S;
  y: S;
  n: number;
  accumulate?: boolean;
}

/** dx[i] (+)= dOut[i]·(1 − y[i]²) where y = tanh(x) is the forward's output. */
export function tanhBackward(ctx: GpuContext, args: TanhBackwardArgs): void {
  if (args.n === 0) return;
  dispatchPlanned(ctx, {
    label: 'tanh_backward',
    bindings: [
      { name: 'dOut', region: args.dOut, write: false },
      { name: 'y', region: args.y, write: false },
      { name: 'dx', region: args.dx, write: true },
    ],
    code: (L) => tanhBackwardWgsl(L),
    uniforms: new Uniforms().u32(args.n).u32(args.accumulate ? 1 : 0).data,
    workgroups: grid1d(args.n),
  });
}
