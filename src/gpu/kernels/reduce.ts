// Dispatch for deterministic full reductions of an f32 vector to one scalar: `sum` (the mean loss over
// tokens, metrics) and, through `reduceTo`, the sum of squares that gradnorm.ts builds on. Two stages with
// a fixed partition of the input (no atomics, no order that depends on scheduling), so a loss read twice
// is the same number.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { REDUCE_WG, reduceWgsl } from './reduce.wgsl';

/** At most this many partial sums from stage one, so stage two is a single workgroup. */
const MAX_GROUPS = REDUCE_WG;

/** Stage-one workgroups for n elements: enough to keep a GPU busy, few enough for one stage-two group. */
export const reduceGroups = (n: number): number =>
  Math.max(1, Math.min(MAX_GROUPS, Math.ceil(n / REDUCE_WG)));

function pass(
  ctx: GpuContext,
  square: boolean,
  x: GpuRegion,
  out: GpuRegion,
  n: number,
  groups: number,
  outIndex: number,
  scale: number,
): void {
  const label = square ? 'reduce_sumsq' : 'reduce_sum';
  const L = planBindings(label, [
    { name: 'x', region: x, write: false },
    { name: 'out', region: out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`${label}:${L.sig}`, label, () => reduceWgsl(L, square)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(n)
      .u32(groups * REDUCE_WG)
      .u32(outIndex)
      .f32(scale).data,
    workgroups: [groups],
  });
}

/**
 * out[outIndex] = scale·Σ x[i] (or Σ x[i]² when `square`) over i < n. One dispatch when n fits one
 * workgroup's first pass, else two with a workspace of partial sums freed right after recording.
 */
export function reduceTo(ctx: GpuContext, args: SumArgs & { square: boolean }): void {
  const { out, x, n, square } = args;
  const scale = args.scale ?? 1;
  const outIndex = args.outIndex ?? 0;
  const groups = reduceGroups(n);
  if (groups === 1) {
    pass(ctx, square, x, out, n, 1, outIndex, scale);
    return;
  }
  const partial = ctx.arena.alloc(groups * 4, 'workspace', 'reduce.partial');
  pass(ctx, square, x, partial, n, groups, 0, 1);
  pass(ctx, false, partial, out, groups, 1, outIndex, scale);
  ctx.arena.free(partial);
}

export interface SumArgs<S = GpuRegion> {
  out: S;
  x: S;
  n: number;
  scale?: number;
  outIndex?: number;
}

/** out[outIndex] = scale·Σ_{i<n} x[i], deterministic two-stage. n = 0 writes 0. */
export function sum(ctx: GpuContext, args: SumArgs): void {
  reduceTo(ctx, { ...args, square: false });
}
