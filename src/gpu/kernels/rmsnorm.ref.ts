// CPU float64 twins of RMSNorm forward and backward (rmsnorm.ts), HF LlamaRMSNorm semantics:
// out = x·rsqrt(mean(x²) + eps)·gamma. x, out, dOut, dx [rows, cols]; gamma [cols]; rstd [rows].

import { putInto } from './common';
import type { RmsNormArgs, RmsNormBackwardArgs } from './rmsnorm';

export interface RmsNormRef {
  out: Float64Array;
  rstd: Float64Array;
}

export function rmsNormRef(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  rows: number,
  cols: number,
  eps: number,
): RmsNormRef {
  const out = new Float64Array(rows * cols);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let q = 0;
    for (let c = 0; c < cols; c++) q += x[o + c] * x[o + c];
    const rs = 1 / Math.sqrt(q / cols + eps);
    for (let c = 0; c < cols; c++) out[o + c] = x[o + c] * rs * gamma[c];
    rstd[r] = rs;
  }
  return { out, rstd };
}

export interface RmsNormGradsRef {
  dx: Float64Array;
  dGamma: Float64Array;
}

/** Gradients of Σ dOut·out with respect to x and gamma, from the forward's saved rstd. */
export function rmsNormBackwardRef(
  dOut: ArrayLike<number>,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  rows: number,
  cols: number,
  rstd: ArrayLike<number>,
): RmsNormGradsRef {
  const dx = new Float64Array(rows * cols);
  const dGamma = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const rs = rstd[r];
    let m = 0;
    for (let c = 0; c < cols; c++) {
      const xh = x[o + c] * rs;
      m += gamma[c] * dOut[o + c] * xh;
      dGamma[c] += dOut[o + c] * xh;
    }
    m /= cols;
    for (let c = 0; c < cols; c++) dx[o + c] = rs * (gamma[c] * dOut[o + c] - x[o + c] * rs * m);
  }
  return { dx, dGamma };
}

/** The twin of rmsNorm(): out and the saved rstd. */
export function rmsNormTwin(p: RmsNormArgs<Float64Array>): void {
  const r = rmsNormRef(p.x, p.gamma, p.rows, p.cols, p.eps);
  putInto(p.out, r.out);
  putInto(p.rstd, r.rstd);
}

/** The twin of rmsNormBackward(); a null gradient is skipped. */
export function rmsNormBackwardTwin(p: RmsNormBackwardArgs<Float64Array>): void {
  const r = rmsNormBackwardRef(p.dOut, p.x, p.gamma, p.rows, p.cols, p.rstd);
  if (p.dx) putInto(p.dx, r.dx, p.accumulateDx);
  if (p.dGamma) putInto(p.dGamma, r.dGamma, p.accumulateParams);
}
