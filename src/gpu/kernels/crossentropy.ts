// Dispatch for the language-model loss: fused softmax cross-entropy over [N, V] logits (already shifted by
// the caller, so row i predicts targets[i]), with the gradient written in the same pass, optionally over
// the logits to save N·V floats; and log-softmax gathering for RLHF log-probabilities. Reducing the
// per-row losses to a mean is left to reduce.ts (`sum` with scale 1/count).
import { type GpuRegion, regionParts } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { type BindingSpec, memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { type CeReduce, crossEntropyWgsl } from './crossentropy.wgsl';

const sameRegion = (a: GpuRegion, b: GpuRegion): boolean => {
  const ra = regionParts(a);
  const rb = regionParts(b);
  return ra.buffer === rb.buffer && ra.offset === rb.offset && ra.size === rb.size;
};

/**
 * Subgroup operations combine the row's partials where the device has them (1 barrier instead of 9);
 * `ctx.variants.get('crossentropy')` forces 'tree' or 'subgroup' (the latter only with the feature).
 */
export function ceReduce(ctx: GpuContext): CeReduce {
  const forced = ctx.variants.get('crossentropy');
  if (forced === 'tree') return 'tree';
  return ctx.features.subgroups ? 'subgroup' : 'tree';
}

function record(
  ctx: GpuContext,
  label: string,
  io: Pick<CrossEntropyArgs, 'logits' | 'targets' | 'losses'> & { dLogits: GpuRegion | null },
  N: number,
  V: number,
  scale: number,
  sign: number,
): void {
  const specs: BindingSpec[] = [
    { name: 'logits', region: io.logits, write: false },
    { name: 'targets', region: io.targets, write: false, type: 'array<i32>' },
    { name: 'losses', region: io.losses, write: true },
  ];
  if (io.dLogits) specs.push({ name: 'dLogits', region: io.dLogits, write: true });
  const L = planBindings(label, specs);
  const withGrad = !!io.dLogits;
  const reduce = ceReduce(ctx);
  const name = reduce === 'subgroup' ? `${label}_sg` : label;
  ctx.dispatch({
    kernel: memoKernel(`${name}:${L.sig}`, name, () => crossEntropyWgsl(L, withGrad, reduce)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(N).u32(V).f32(scale).f32(sign).data,
    // One workgroup per row; grid1d with 1 "thread" per group folds N past 65535 into y.
    workgroups: grid1d(N, 1),
  });
}

export interface CrossEntropyArgs<S = GpuRegion, I = S> {
  losses: S;
  /** Null or absent: losses only. */
  dLogits?: S | null;
  logits: S;
  targets: I;
  N: number;
  V: number;
  scale: number;
}

/**
 * losses[i] = −log softmax(logits_i)[t_i] (0 when t_i is ignored: -100, or any id outside [0, V)).
 * With dLogits, dLogits_i = scale·(softmax(logits_i) − onehot(t_i)) (0 rows when ignored); with inPlace
 * that gradient overwrites the logits instead (dLogits may then be omitted or be the logits region).
 */
export function crossEntropy(ctx: GpuContext, args: CrossEntropyArgs & { inPlace?: boolean }): void {
  const { losses, logits, targets, N, V, scale, dLogits } = args;
  if (args.inPlace && dLogits && !sameRegion(dLogits, logits))
    throw new Error('crossEntropy: inPlace writes the gradient over logits; pass no other dLogits');
  const grad = args.inPlace ? logits : (dLogits ?? null);
  const label = grad ? 'crossentropy_grad' : 'crossentropy_loss';
  record(ctx, label, { logits, targets, losses, dLogits: grad }, N, V, scale, 1);
}

export interface LogSoftmaxGatherArgs<S = GpuRegion, I = S> {
  out: S;
  logits: S;
  targets: I;
  N: number;
  V: number;
}

/** out[i] = log softmax(logits_i)[t_i] (per-token log-probabilities), 0 when t_i is ignored. */
export function logSoftmaxGather(ctx: GpuContext, args: LogSoftmaxGatherArgs): void {
  // The loss kernel with sign −1: −(lse − x_t) = x_t − lse.
  const { logits, targets, out, N, V } = args;
  record(ctx, 'log_softmax_gather', { logits, targets, losses: out, dLogits: null }, N, V, 1, -1);
}
