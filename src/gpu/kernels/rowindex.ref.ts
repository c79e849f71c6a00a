// CPU float64 twins of rowindex.ts: the same (i, l) → position map over whole rows or columns.
import { putInto } from './common';
import type { IndexAddArgs, IndexGatherArgs, RowIndexDims } from './rowindex';

export function rowIndexPos(i: number, l: number, idx: ArrayLike<number>, d: RowIndexDims): number {
  return d.byColumn ? l * d.cols + idx[i] : idx[i] * d.cols + l;
}

/** out[pos(i, l)] += alpha·x[i·len + l], in place. */
export function indexAddRef(
  out: Float64Array,
  x: ArrayLike<number>,
  idx: ArrayLike<number>,
  d: RowIndexDims,
  alpha = 1,
): void {
  for (let i = 0; i < d.k; i++)
    for (let l = 0; l < d.len; l++) out[rowIndexPos(i, l, idx, d)] += alpha * x[i * d.len + l];
}

/** [k, len] with element (i, l) = x[pos(i, l)]. */
export function indexGatherRef(x: ArrayLike<number>, idx: ArrayLike<number>, d: RowIndexDims): Float64Array {
  const out = new Float64Array(d.k * d.len);
  for (let i = 0; i < d.k; i++)
    for (let l = 0; l < d.len; l++) out[i * d.len + l] = x[rowIndexPos(i, l, idx, d)];
  return out;
}

/** The twin of indexAdd() (in place on out). */
export function indexAddTwin(p: IndexAddArgs<Float64Array, Int32Array>): void {
  indexAddRef(p.out, p.x, p.idx, p, p.alpha ?? 1);
}

/** The twin of indexGather(). */
export function indexGatherTwin(p: IndexGatherArgs<Float64Array, Int32Array>): void {
  putInto(p.out, indexGatherRef(p.x, p.idx, p), p.accumulate);
}
