// CPU float64 twins of nm.ts: the N:M update applied from its compact values (forward) and its two
// gradients, with the same row-slice and column-from-index reading as the kernels.
import { putInto } from './common';
import { type NmDims, type NmGradInputArgs, type NmGradValuesArgs, type NmMatmulArgs, nmPerRow } from './nm';

/** y [rows, out] = x·ΔWᵀ with ΔW's entries (v, idx). */
export function nmMatmulRef(x: ArrayLike<number>, v: ArrayLike<number>, idx: ArrayLike<number>, d: NmDims) {
  const kr = nmPerRow(d);
  const y = new Float64Array(d.rows * d.outF);
  for (let r = 0; r < d.rows; r++)
    for (let o = 0; o < d.outF; o++) {
      let s = 0;
      for (let j = o * kr; j < (o + 1) * kr; j++) s += v[j] * x[r * d.inF + idx[j] - o * d.inF];
      y[r * d.outF + o] = s;
    }
  return y;
}

/** dv [out·kr] from dy [rows, out] and x [rows, in]. */
export function nmGradValuesRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  idx: ArrayLike<number>,
  d: NmDims,
) {
  const kr = nmPerRow(d);
  const dv = new Float64Array(d.outF * kr);
  for (let e = 0; e < dv.length; e++) {
    const o = Math.floor(e / kr);
    const c = idx[e] - o * d.inF;
    for (let r = 0; r < d.rows; r++) dv[e] += dy[r * d.outF + o] * x[r * d.inF + c];
  }
  return dv;
}

/** dx [rows, in] = dy·ΔW. */
export function nmGradInputRef(
  dy: ArrayLike<number>,
  v: ArrayLike<number>,
  idx: ArrayLike<number>,
  d: NmDims,
) {
  const kr = nmPerRow(d);
  const dx = new Float64Array(d.rows * d.inF);
  for (let o = 0; o < d.outF; o++)
    for (let j = o * kr; j < (o + 1) * kr; j++) {
      const c = idx[j] - o * d.inF;
      for (let r = 0; r < d.rows; r++) dx[r * d.inF + c] += dy[r * d.outF + o] * v[j];
    }
  return dx;
}

export function nmMatmulTwin(p: NmMatmulArgs<Float64Array, Int32Array>): void {
  putInto(p.y, nmMatmulRef(p.x, p.v, p.idx, p), p.accumulate);
}

export function nmGradValuesTwin(p: NmGradValuesArgs<Float64Array, Int32Array>): void {
  putInto(p.dv, nmGradValuesRef(p.dy, p.x, p.idx, p), p.accumulate);
}

export function nmGradInputTwin(p: NmGradInputArgs<Float64Array, Int32Array>): void {
  putInto(p.dx, nmGradInputRef(p.dy, p.v, p.idx, p), p.accumulate);
}
