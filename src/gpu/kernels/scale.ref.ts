// CPU float64 twins of scale and mulVec (scale.ts). x, out, dOut, dx [rows, cols] row-major; v, dv [cols].

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
