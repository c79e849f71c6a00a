// CPU float64 twins of the per-line kernels (lines.ts). x [rows, cols] row-major; a line is a row (perRow)
// or a column.

import { putInto } from './common';
import type { LineNormsArgs, ScaleLinesArgs } from './lines';

/** ‖line k‖₂ for each line. */
export function lineNormsRef(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  perRow: boolean,
): Float64Array {
  const lines = perRow ? rows : cols;
  const out = new Float64Array(lines);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c];
      out[perRow ? r : c] += v * v;
    }
  }
  return out.map(Math.sqrt);
}

/** x[r,c]·num[k]/(den[k] + eps), k = r (perRow) or c; null num/den are ones. */
export function scaleLinesRef(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  perRow: boolean,
  num: ArrayLike<number> | null,
  den: ArrayLike<number> | null,
  eps = 0,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const k = perRow ? r : c;
      let f = num ? num[k] : 1;
      if (den) f /= den[k] + eps;
      out[r * cols + c] = x[r * cols + c] * f;
    }
  }
  return out;
}

/** The twin of lineNorms(). */
export function lineNormsTwin(p: LineNormsArgs<Float64Array>): void {
  putInto(p.out, lineNormsRef(p.x, p.rows, p.cols, p.perRow));
}

/** The twin of scaleLines() (out may be x: the result is computed before it is written). */
export function scaleLinesTwin(p: ScaleLinesArgs<Float64Array>): void {
  putInto(p.out, scaleLinesRef(p.x, p.rows, p.cols, p.perRow, p.num, p.den, p.eps ?? 0));
}
