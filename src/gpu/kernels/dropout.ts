// Dispatch for inverted dropout (LoRA's lora_dropout, residual and attention dropout). The mask is never
// stored: forward and backward regenerate it from (seed, stream, index) with the same integer hash, so the
// caller only keeps the seed and a stream number per dropout site and step.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { dispatchPlanned } from './bindings';
import { grid1d } from './common';
import { dropoutScale, dropoutThreshold, dropoutWgsl } from './dropout.wgsl';

export { dropoutScale, dropoutThreshold };

/** out (+)= x·mask/(1−p): the forward (out, x) and the backward (dx, dOut) are the same kernel. */
function record(
  ctx: GpuContext,
  accumulate: boolean,
  out: GpuRegion,
  x: GpuRegion,
  { n, p, seed, stream }: Pick<DropoutArgs, 'n' | 'p' | 'seed' | 'stream'>,
): void {
  dispatchPlanned(ctx, {
    label: accumulate ? 'dropout_acc' : 'dropout',
    bindings: [
      { name: 'x', region: x, write: false },
      { name: 'out', region: out, write: true },
    ],
    code: (L) => dropoutWgsl(L, accumulate),
    uniforms: new Uniforms().u32(n).u32(dropoutThreshold(p)).u32(seed).u32(stream).f32(dropoutScale(p)).data,
    workgroups: grid1d(n),
  });
}

export interface DropoutArgs<S = GpuRegion> {
  out: S;
  x: S;
  n: number;
  p: number;
  seed: number;
  stream: number;
}

/** out = x·mask/(1−p), mask from (seed, stream, index). out may be x (in place). */
export function dropout(ctx: GpuContext, args: DropoutArgs): void {
  record(ctx, false, args.out, args.x, args);
}

export interface DropoutBackwardArgs<S = GpuRegion> {
  dx: S;
  dOut: S;
  n: number;
  p: number;
  seed: number;
  stream: number;
  accumulate?: boolean;
}

/** dx (+)= dOut·mask/(1−p) with the same (seed, stream) as the forward pass. */
export function dropoutBackward(ctx: GpuContext, args: DropoutBackwardArgs): void {
  record(ctx, args.accumulate ?? false, args.dx, args.dOut, args);
}
