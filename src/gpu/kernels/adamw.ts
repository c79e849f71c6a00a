// Dispatch for the AdamW optimizer step (torch.optim.AdamW semantics, decoupled weight decay, no amsgrad).
// Parameters, gradients and both moments are flat f32 vectors of n elements (views of the flat trainable,
// gradient and optimizer allocations), so one dispatch updates every trainable tensor at once. The step
// counter lives on the CPU; the optional gradScale (the clip factor) stays on the GPU.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { adamwWgsl } from './adamw.wgsl';
import { type BindingSpec, memoKernel, planBindings } from './bindings';
import { grid1d } from './common';

export interface AdamwArgs<S = GpuRegion> {
  params: S;
  grads: S;
  m: S;
  v: S;
  n: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step number after incrementing, starting at 1. */
  step: number;
  /** One value multiplying every gradient first (the clip factor); default 1. */
  gradScale?: S | null;
}

/**
 * One AdamW step (step counts from 1): p ← p − lr·wd·p; m ← β1m + (1−β1)g; v ← β2v + (1−β2)g²;
 * p ← p − lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + eps), where g = grads·gradScale[0] when gradScale is given.
 */
export function adamw(ctx: GpuContext, args: AdamwArgs): void {
  const { lr, beta1, beta2, step } = args;
  if (!(step >= 1) || !Number.isInteger(step))
    throw new Error(`adamw: step must be an integer ≥ 1, got ${step}`);
  // Computed in float64 as torch computes them in Python floats; only the results round to f32.
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const uniforms = new Uniforms()
    .u32(args.n)
    .f32(1 - lr * args.weightDecay)
    .f32(beta1)
    .f32(beta2)
    .f32(lr / bc1)
    .f32(Math.sqrt(bc2))
    .f32(args.eps)
    .u32(0).data;
  const scaled = !!args.gradScale;
  const specs: BindingSpec[] = [
    { name: 'params', region: args.params, write: true },
    { name: 'grads', region: args.grads, write: false },
    { name: 'm', region: args.m, write: true },
    { name: 'v', region: args.v, write: true },
  ];
  if (args.gradScale) specs.push({ name: 'gradScale', region: args.gradScale, write: false });
  const label = scaled ? 'adamw_scaled' : 'adamw';
  const L = planBindings(label, specs);
  ctx.dispatch({
    kernel: memoKernel(`${label}:${L.sig}`, label, () => adamwWgsl(L, scaled)),
    buffers: L.buffers,
    uniforms,
    workgroups: grid1d(args.n),
  });
}
