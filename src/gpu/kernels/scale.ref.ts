// CPU float64 twins of scale and mulVec (scale.ts). x, out, dOut, dx [rows, cols] row-major; v, dv [cols].

import { putInto } from './common';
import type { MulVecArgs, MulVecBackwardArgs, ScaleArgs } from './scale';

/** alpha·x for each element. */
export function scaleRef(x: ArrayLike<number>, alpha: number): Float64Array {
  return Float64Array.from(x, (v) => alpha * v);
}

/** out[r,c] = x[r,c]·v[c]. */
export function mulVecRef(
  x: ArrayLike<number>,
  v: ArrayLike<number>,
  rows: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c] * v[c];
  return out;
}

export interface MulVecGradsRef {
  dx: Float64Array;
  dv: Float64Array;
}

/** Gradients of Σ dOut·mulVec(x, v) with respect to x and v. */
export function mulVecBackwardRef(
  dOut: ArrayLike<number>,
  x: ArrayLike<number>,
  v: ArrayLike<number>,
  rows: number,
  cols: number,
): MulVecGradsRef {
  const dx = new Float64Array(rows * cols);
  const dv = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      dx[i] = dOut[i] * v[c];
      dv[c] += dOut[i] * x[i];
    }
  }
  return { dx, dv };
}

/** The twin of scale(): out (+)= alpha·x. */
export function scaleTwin(p: ScaleArgs<Float64Array>): void {
  for (let i = 0; i < p.n; i++) p.out[i] = (p.accumulate ? p.out[i] : 0) + p.alpha * p.x[i];
}

/** The twin of mulVec(). */
export function mulVecTwin(p: MulVecArgs<Float64Array>): void {
  putInto(p.out, mulVecRef(p.x, p.v, p.rows, p.cols), p.accumulate);
}

/** The twin of mulVecBackward(); a null gradient is skipped. */
export function mulVecBackwardTwin(p: MulVecBackwardArgs<Float64Array>): void {
  const r = mulVecBackwardRef(p.dOut, p.x, p.v, p.rows, p.cols);
  if (p.dx) putInto(p.dx, r.dx, p.accumulateDx);
  if (p.dv) putInto(p.dv, r.dv, p.accumulateDv);
}
