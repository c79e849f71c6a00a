// Global gradient-norm clipping with torch.nn.utils.clip_grad_norm_ semantics, entirely on the GPU: each
// gradient tensor adds its Σg² into a slot of a small normSq buffer (`sumSquares`), then `clipScale`
// turns the slots into one factor on the GPU that adamw.ts multiplies into the gradients (`gradScale`),
// so clipping never reads back to the CPU. Slots rather than accumulation keep it deterministic.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { clipScaleWgsl } from './gradnorm.wgsl';
import { reduceTo, type SumArgs } from './reduce';

/** sum's arguments without the scale (the squares are summed as they are). */
export type SumSquaresArgs<S = GpuRegion> = Omit<SumArgs<S>, 'scale'>;

/** out[outIndex] = Σ_{i<n} x[i]², deterministic two-stage. */
export function sumSquares(ctx: GpuContext, args: SumSquaresArgs): void {
  reduceTo(ctx, { out: args.out, x: args.x, n: args.n, outIndex: args.outIndex, square: true });
}

export interface ClipScaleArgs<S = GpuRegion> {
  scale: S;
  normSq: S;
  maxNorm: number;
  normSqCount?: number;
}

/**
 * scale[0] = min(1, maxNorm / (sqrt(Σ normSq[0..normSqCount)) + 1e-6)). normSq may hold one partial sum
 * of squares per gradient tensor; normSqCount defaults to 1.
 */
export function clipScale(ctx: GpuContext, args: ClipScaleArgs): void {
  const L = planBindings('clip_scale', [
    { name: 'normSq', region: args.normSq, write: false },
    { name: 'scale', region: args.scale, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`clip_scale:${L.sig}`, 'clip_scale', () => clipScaleWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(args.normSqCount ?? 1).f32(args.maxNorm).data,
    workgroups: [1],
  });
}
