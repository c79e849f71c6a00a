// Dispatch for SwiGLU (Llama MLP: out = silu(gate)·up) forward and backward over n elements. Outputs are
// allocated by the caller and may overwrite an input in place (e.g. dGate over gate): each thread reads
// its element before writing it.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { type BindingSpec, dispatchPlanned } from './bindings';
import { grid1d } from './common';
import { swigluBackwardWgsl, swigluWgsl } from './swiglu.wgsl';

export interface SwigluArgs<S = GpuRegion> {
  out: S;
  gate: S;
  up: S;
  n: number;
}

/** out[i] = silu(gate[i])·up[i]. */
export function swiglu(ctx: GpuContext, args: SwigluArgs): void {
  if (args.n === 0) return;
  dispatchPlanned(ctx, {
    label: 'swiglu',
    bindings: [
      { name: 'gate', region: args.gate, write: false },
      { name: 'up', region: args.up, write: false },
      { name: 'out', region: args.out, write: true },
    ],
    code: (L) => swigluWgsl(L),
    uniforms: new Uniforms().u32(args.n).data,
    workgroups: grid1d(args.n),
  });
}

export interface SwigluBackwardArgs<S = GpuRegion> {
  dGate: S | null;
  dUp: S | null;
  dOut: S;
  gate: S;
  up: S;
  n: number;
}

/** dGate, dUp (overwritten; a null one is skipped) from dOut and the forward's inputs. */
export function swigluBackward(ctx: GpuContext, args: SwigluBackwardArgs): void {
  const { dGate, dUp, n } = args;
  if (n === 0 || (!dGate && !dUp)) return;
  const specs: BindingSpec[] = [
    { name: 'dOut', region: args.dOut, write: false },
    { name: 'gate', region: args.gate, write: false },
  ];
  // up is read only for dGate; binding it otherwise would leave an unused binding.
  if (dGate)
    specs.push({ name: 'up', region: args.up, write: false }, { name: 'dGate', region: dGate, write: true });
  if (dUp) specs.push({ name: 'dUp', region: dUp, write: true });
  dispatchPlanned(ctx, {
    label: `swiglu_backward_${dGate ? 'g' : ''}${dUp ? 'u' : ''}`,
    bindings: specs,
    code: (L) => swigluBackwardWgsl(L, !!dGate, !!dUp),
    uniforms: new Uniforms().u32(n).data,
    workgroups: grid1d(n),
  });
}
