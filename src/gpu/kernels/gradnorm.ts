// Global gradient-norm clipping with torch.nn.utils.clip_grad_norm_ semantics, entirely on the GPU: each
// gradient tensor adds its Σg² into a slot of a small normSq buffer (`sumSquares`), then `clipScale`
// turns the slots into one factor on the GPU that adamw.ts multiplies into the gradients (`gradScale`),
// so clipping never reads back to the CPU. Slots rather than accumulation keep it deterministic.
import type { GpuRegion } from '../arena';
import { type GpuContext, type KernelSource, Uniforms } from '../context';
import { clipScaleWgsl } from './gradnorm.wgsl';
import { reduceTo } from './reduce';

const CLIP: KernelSource = { key: 'clip_scale', label: 'clip_scale', code: clipScaleWgsl() };

/** out[outIndex] = Σ_{i<n} x[i]², deterministic two-stage. */
export function sumSquares(
  ctx: GpuContext,
  args: { out: GpuRegion; x: GpuRegion; n: number; outIndex?: number },
): void {
  reduceTo(ctx, { out: args.out, x: args.x, n: args.n, outIndex: args.outIndex, square: true });
}

/**
 * scale[0] = min(1, maxNorm / (sqrt(Σ normSq[0..normSqCount)) + 1e-6)). normSq may hold one partial sum
 * of squares per gradient tensor; normSqCount defaults to 1.
 */
export function clipScale(
  ctx: GpuContext,
  args: { scale: GpuRegion; normSq: GpuRegion; maxNorm: number; normSqCount?: number },
): void {
  ctx.dispatch({
    kernel: CLIP,
    buffers: [args.normSq, args.scale],
    uniforms: new Uniforms().u32(args.normSqCount ?? 1).f32(args.maxNorm).data,
    workgroups: [1],
  });
}
