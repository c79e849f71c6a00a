// Dispatch for the standalone activations (ReLU, SiLU, exact GELU) and their backward over n elements.
// `out` may be `x` and `dx` may be `dOut` (in place); the binding planner makes either valid WebGPU.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { type ActivationKind, activationBackwardWgsl, activationWgsl } from './activation.wgsl';
import { dispatchPlanned } from './bindings';
import { grid1d } from './common';

export type { ActivationKind };

export interface ActivationArgs<S = GpuRegion> {
  out: S;
  x: S;
  n: number;
  kind: ActivationKind;
}

/** out[i] = f(x[i]). */
export function activation(ctx: GpuContext, args: ActivationArgs): void {
  if (args.n === 0) return;
  dispatchPlanned(ctx, {
    label: `act_${args.kind}`,
    key: `act:${args.kind}`,
    bindings: [
      { name: 'x', region: args.x, write: false },
      { name: 'out', region: args.out, write: true },
    ],
    code: (L) => activationWgsl(L, args.kind),
    uniforms: new Uniforms().u32(args.n).data,
    workgroups: grid1d(args.n),
  });
}

export interface ActivationBackwardArgs<S = GpuRegion> {
  dx: S;
  dOut: S;
  x: S;
  n: number;
  kind: ActivationKind;
  accumulate?: boolean;
}

/** dx[i] (+)= dOut[i]·f'(x[i]). */
export function activationBackward(ctx: GpuContext, args: ActivationBackwardArgs): void {
  if (args.n === 0) return;
  dispatchPlanned(ctx, {
    label: `act_${args.kind}_backward`,
    key: `act_backward:${args.kind}`,
    bindings: [
      { name: 'dOut', region: args.dOut, write: false },
      { name: 'x', region: args.x, write: false },
      { name: 'dx', region: args.dx, write: true },
    ],
    code: (L) => activationBackwardWgsl(L, args.kind),
    uniforms: new Uniforms().u32(args.n).u32(args.accumulate ? 1 : 0).data,
    workgroups: grid1d(args.n),
  });
}
