// Dispatch for the standalone activations (ReLU, SiLU, exact GELU) and their backward over n elements.
// `out` may be `x` and `dx` may be `dOut` (in place); the binding planner makes either valid WebGPU.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { type ActivationKind, activationBackwardWgsl, activationWgsl } from './activation.wgsl';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';

export type { ActivationKind };

/** out[i] = f(x[i]). */
export function activation(
  ctx: GpuContext,
  args: { out: GpuRegion; x: GpuRegion; n: number; kind: ActivationKind },
): void {
  if (args.n === 0) return;
  const L = planBindings(`act_${args.kind}`, [
    { name: 'x', region: args.x, write: false },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`act:${args.kind}:${L.sig}`, `act_${args.kind}`, () => activationWgsl(L, args.kind)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(args.n).data,
    workgroups: grid1d(args.n),
  });
}

/** dx[i] (+)= dOut[i]·f'(x[i]). */
export function activationBackward(
  ctx: GpuContext,
  args: {
    dx: GpuRegion;
    dOut: GpuRegion;
    x: GpuRegion;
    n: number;
    kind: ActivationKind;
    accumulate?: boolean;
  },
): void {
  if (args.n === 0) return;
  const L = planBindings(`act_${args.kind}_backward`, [
    { name: 'dOut', region: args.dOut, write: false },
    { name: 'x', region: args.x, write: false },
    { name: 'dx', region: args.dx, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`act_backward:${args.kind}:${L.sig}`, `act_${args.kind}_backward`, () =>
      activationBackwardWgsl(L, args.kind),
    ),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(args.n).u32(args.accumulate ? 1 : 0).data,
    workgroups: grid1d(args.n),
  });
}
