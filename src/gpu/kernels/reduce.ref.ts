// CPU float64 twins of the reductions in reduce.ts.

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
