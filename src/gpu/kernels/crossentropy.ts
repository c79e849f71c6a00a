// Dispatch for the language-model loss: fused softmax cross-entropy over [N, V] logits (already shifted by
// the caller, so row i predicts targets[i]), with the gradient written in the same pass, optionally over
// the logits to save N·V floats; and log-softmax gathering for RLHF log-probabilities. Reducing the
// per-row losses to a mean is left to reduce.ts (`sum` with scale 1/count).
import type { GpuRegion } from '../arena';
import { isView } from '../arena';
import { type GpuContext, type KernelSource, Uniforms } from '../context';
import { grid1d } from './common';
import { type CrossEntropyMode, crossEntropyWgsl } from './crossentropy.wgsl';

const KERNELS: Record<CrossEntropyMode, KernelSource> = {
  loss: { key: 'crossentropy_loss', label: 'crossentropy_loss', code: crossEntropyWgsl('loss') },
  grad: { key: 'crossentropy_grad', label: 'crossentropy_grad', code: crossEntropyWgsl('grad') },
  inplace: { key: 'crossentropy_inplace', label: 'crossentropy_inplace', code: crossEntropyWgsl('inplace') },
};

const sameRegion = (a: GpuRegion, b: GpuRegion): boolean => {
  const ab = isView(a) ? a.base : a;
  const bb = isView(b) ? b.base : b;
  return ab === bb && (isView(a) ? a.offset : 0) === (isView(b) ? b.offset : 0);
};

function record(
  ctx: GpuContext,
  mode: CrossEntropyMode,
  buffers: GpuRegion[],
  N: number,
  V: number,
  scale: number,
  sign: number,
): void {
  ctx.dispatch({
    kernel: KERNELS[mode],
    buffers,
    uniforms: new Uniforms().u32(N).u32(V).f32(scale).f32(sign).data,
    // One workgroup per row; grid1d with 1 "thread" per group folds N past 65535 into y.
    workgroups: grid1d(N, 1),
  });
}

/**
 * losses[i] = −log softmax(logits_i)[t_i] (0 when t_i is ignored: -100, or any id outside [0, V)).
 * With dLogits, dLogits_i = scale·(softmax(logits_i) − onehot(t_i)) (0 rows when ignored); with inPlace
 * that gradient overwrites the logits instead (dLogits may then be omitted or be the logits region).
 */
export function crossEntropy(
  ctx: GpuContext,
  args: {
    losses: GpuRegion;
    logits: GpuRegion;
    targets: GpuRegion;
    N: number;
    V: number;
    scale: number;
    dLogits?: GpuRegion | null;
    inPlace?: boolean;
  },
): void {
  const { losses, logits, targets, N, V, scale, dLogits } = args;
  if (args.inPlace) {
    if (dLogits && !sameRegion(dLogits, logits))
      throw new Error('crossEntropy: inPlace writes the gradient over logits; pass no other dLogits');
    record(ctx, 'inplace', [logits, targets, losses], N, V, scale, 1);
  } else if (dLogits) {
    record(ctx, 'grad', [logits, targets, losses, dLogits], N, V, scale, 1);
  } else {
    record(ctx, 'loss', [logits, targets, losses], N, V, scale, 1);
  }
}

/** out[i] = log softmax(logits_i)[t_i] (per-token log-probabilities), 0 when t_i is ignored. */
export function logSoftmaxGather(
  ctx: GpuContext,
  args: { out: GpuRegion; logits: GpuRegion; targets: GpuRegion; N: number; V: number },
): void {
  // The loss kernel with sign −1: −(lse − x_t) = x_t − lse.
  record(ctx, 'loss', [args.logits, args.targets, args.out], args.N, args.V, 1, -1);
}
