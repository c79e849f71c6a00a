// Dispatch for inverted dropout (LoRA's lora_dropout, residual and attention dropout). The mask is never
// stored: forward and backward regenerate it from (seed, stream, index) with the same integer hash, so the
// caller only keeps the seed and a stream number per dropout site and step.
import type { GpuRegion } from '../arena';
import { type GpuContext, type KernelSource, Uniforms } from '../context';
import { grid1d } from './common';
import { dropoutScale, dropoutThreshold, dropoutWgsl } from './dropout.wgsl';

export { dropoutScale, dropoutThreshold };

const DROPOUT: KernelSource = { key: 'dropout', label: 'dropout', code: dropoutWgsl(false) };
const DROPOUT_ACC: KernelSource = { key: 'dropout_acc', label: 'dropout_acc', code: dropoutWgsl(true) };

function record(
  ctx: GpuContext,
  kernel: KernelSource,
  out: GpuRegion,
  x: GpuRegion,
  n: number,
  p: number,
  seed: number,
  stream: number,
): void {
  ctx.dispatch({
    kernel,
    buffers: [x, out],
    uniforms: new Uniforms().u32(n).u32(dropoutThreshold(p)).u32(seed).u32(stream).f32(dropoutScale(p)).data,
    workgroups: grid1d(n),
  });
}

/** out = x·mask/(1−p), mask from (seed, stream, index). out and x must be different buffers. */
export function dropout(
  ctx: GpuContext,
  args: { out: GpuRegion; x: GpuRegion; n: number; p: number; seed: number; stream: number },
): void {
  record(ctx, DROPOUT, args.out, args.x, args.n, args.p, args.seed, args.stream);
}

/** dx (+)= dOut·mask/(1−p) with the same (seed, stream) as the forward pass. */
export function dropoutBackward(
  ctx: GpuContext,
  args: {
    dx: GpuRegion;
    dOut: GpuRegion;
    n: number;
    p: number;
    seed: number;
    stream: number;
    accumulate?: boolean;
  },
): void {
  const kernel = args.accumulate ? DROPOUT_ACC : DROPOUT;
  record(ctx, kernel, args.dx, args.dOut, args.n, args.p, args.seed, args.stream);
}
