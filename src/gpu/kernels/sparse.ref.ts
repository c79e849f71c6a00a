// CPU float64 twins of sparse.ts: scatter-add into a dense weight and gather from it, with the same
// canonical-index → stored-position map (GPT-2's [in, out] storage).

import { putInto } from './common';
import type { GatherArgs, ScatterAddArgs, SparseDims } from './sparse';

export function sparsePos(c: number, d: SparseDims): number {
  return d.transposed ? (c % d.cols) * d.rows + Math.floor(c / d.cols) : c;
}

/** w[pos(idx[j])] += alpha·values[j], in place. */
export function scatterAddRef(
  w: Float64Array,
  values: ArrayLike<number>,
  idx: ArrayLike<number>,
  d: SparseDims,
  alpha = 1,
): void {
  for (let j = 0; j < d.k; j++) w[sparsePos(idx[j], d)] += alpha * values[j];
}

/** out[j] = x[pos(idx[j])]. */
export function gatherRef(x: ArrayLike<number>, idx: ArrayLike<number>, d: SparseDims): Float64Array {
  return Float64Array.from({ length: d.k }, (_, j) => x[sparsePos(idx[j], d)]);
}

/** The twin of scatterAdd() (in place on w). */
export function scatterAddTwin(p: ScatterAddArgs<Float64Array, Int32Array>): void {
  scatterAddRef(p.w, p.values, p.idx, p, p.alpha ?? 1);
}

/** The twin of gather(). */
export function gatherTwin(p: GatherArgs<Float64Array, Int32Array>): void {
  putInto(p.out, gatherRef(p.x, p.idx, p), p.accumulate);
}
