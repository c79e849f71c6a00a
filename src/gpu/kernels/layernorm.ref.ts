// CPU float64 twins of LayerNorm forward and backward (layernorm.ts), PyTorch semantics: biased variance,
// eps inside the sqrt. x, out, dOut, dx are [rows, cols] row-major; gamma, beta [cols]; mean, rstd [rows].

import { putInto } from './common';
import type { LayerNormArgs, LayerNormBackwardArgs } from './layernorm';

export interface LayerNormRef {
  out: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
}

export function layerNormRef(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  rows: number,
  cols: number,
  eps: number,
): LayerNormRef {
  const out = new Float64Array(rows * cols);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[o + c];
    const mu = s / cols;
    let q = 0;
    for (let c = 0; c < cols; c++) q += (x[o + c] - mu) ** 2;
    const rs = 1 / Math.sqrt(q / cols + eps);
    for (let c = 0; c < cols; c++) out[o + c] = (x[o + c] - mu) * rs * gamma[c] + beta[c];
    mean[r] = mu;
    rstd[r] = rs;
  }
  return { out, mean, rstd };
}

export interface LayerNormGradsRef {
  dx: Float64Array;
  dGamma: Float64Array;
  dBeta: Float64Array;
}

/** Gradients of Σ dOut·out with respect to x, gamma and beta, from the forward's saved mean and rstd. */
export function layerNormBackwardRef(
  dOut: ArrayLike<number>,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  rows: number,
  cols: number,
  mean: ArrayLike<number>,
  rstd: ArrayLike<number>,
): LayerNormGradsRef {
  const dx = new Float64Array(rows * cols);
  const dGamma = new Float64Array(cols);
  const dBeta = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const rs = rstd[r];
    let mg = 0;
    let mgx = 0;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c] - mean[r]) * rs;
      const g = gamma[c] * dOut[o + c];
      mg += g;
      mgx += g * xh;
      dGamma[c] += dOut[o + c] * xh;
      dBeta[c] += dOut[o + c];
    }
    mg /= cols;
    mgx /= cols;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c] - mean[r]) * rs;
      dx[o + c] = rs * (gamma[c] * dOut[o + c] - mg - xh * mgx);
    }
  }
  return { dx, dGamma, dBeta };
}

/** The twin of layerNorm(): out, and the saved mean and rstd. */
export function layerNormTwin(p: LayerNormArgs<Float64Array>): void {
  const r = layerNormRef(p.x, p.gamma, p.beta, p.rows, p.cols, p.eps);
  putInto(p.out, r.out);
  putInto(p.mean, r.mean);
  putInto(p.rstd, r.rstd);
}

/** The twin of layerNormBackward(); a null gradient is skipped. */
export function layerNormBackwardTwin(p: LayerNormBackwardArgs<Float64Array>): void {
  const r = layerNormBackwardRef(p.dOut, p.x, p.gamma, p.rows, p.cols, p.mean, p.rstd);
  if (p.dx) putInto(p.dx, r.dx, p.accumulateDx);
  if (p.dGamma) putInto(p.dGamma, r.dGamma, p.accumulateParams);
  if (p.dBeta) putInto(p.dBeta, r.dBeta, p.accumulateParams);
}
