// CPU float64 twins of gradnorm.ts (torch.nn.utils.clip_grad_norm_ with norm_type 2).

import type { ClipScaleArgs, SumSquaresArgs } from './gradnorm';
import { sumSquaresRef } from './reduce.ref';

export { sumSquaresRef } from './reduce.ref';

/** min(1, maxNorm / (sqrt(Σ normSq) + 1e-6)): the factor every gradient is multiplied by. */
export function clipScaleRef(normSq: ArrayLike<number>, maxNorm: number): number {
  let s = 0;
  for (let i = 0; i < normSq.length; i++) s += normSq[i];
  return Math.min(1, maxNorm / (Math.sqrt(s) + 1e-6));
}

/** The squared global norm of several tensors, as one number (what normSq's slots add up to). */
export function globalNormSqRef(tensors: ReadonlyArray<ArrayLike<number>>): number {
  let s = 0;
  for (const t of tensors) for (let i = 0; i < t.length; i++) s += t[i] * t[i];
  return s;
}

/** The twin of sumSquares(): writes out[outIndex]. */
export function sumSquaresTwin(p: SumSquaresArgs<Float64Array>): void {
  p.out[p.outIndex ?? 0] = sumSquaresRef(p.x.subarray(0, p.n));
}

/** The twin of clipScale(). */
export function clipScaleTwin(p: ClipScaleArgs<Float64Array>): void {
  p.scale[0] = clipScaleRef(p.normSq.subarray(0, p.normSqCount ?? 1), p.maxNorm);
}
