// CPU float64 twins of the reductions in reduce.ts.
import type { SumArgs } from './reduce';

/** scale·Σ x[i]. */
export function sumRef(x: ArrayLike<number>, scale = 1): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return scale * s;
}

/** Σ x[i]² (the squared L2 norm). */
export function sumSquaresRef(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}

/** The twin of sum(): writes out[outIndex]. */
export function sumTwin(p: SumArgs<Float64Array>): void {
  p.out[p.outIndex ?? 0] = sumRef(p.x.subarray(0, p.n), p.scale ?? 1);
}
