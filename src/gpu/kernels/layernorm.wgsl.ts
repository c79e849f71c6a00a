// WGSL for LayerNorm forward and its input gradient, and the row-reduction frame that RMSNorm shares.
// A row's statistics are reduced either by one thread per row (no barriers: best for narrow rows, and on
// SwiftShader where barriers are slow) or by one 64-thread workgroup per row with a fixed-order tree in
// workgroup memory (wide rows on real GPUs). Both are deterministic. dGamma/dBeta are column sums and go
// through bias.ts's column reduction.
import type { KernelLayout } from './bias.wgsl';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export type RowVariant = 'thread' | 'workgroup';

/** Threads per workgroup in both variants (rows per workgroup, or threads sharing one row). */
export const ROW_WG = 64;

/** The pieces a row kernel's text is assembled from, per variant. */
export interface RowFrame {
  /** Module-scope declarations the reductions need. */
  decls: string;
  /** The row this invocation (or workgroup) owns. */
  row: string;
  /** Loop header over this invocation's columns of the row. */
  forCols: string;
  /** Whole-row sum of a per-invocation partial (f32, or vec2<f32> with `sum2`). */
  sum: (e: string) => string;
  sum2: (e: string) => string;
  /** True for the one invocation that writes per-row results. */
  leader: string;
}

export function rowFrame(v: RowVariant): RowFrame {
  if (v === 'thread') {
    return {
      decls: '',
      row: FLAT_INDEX(ROW_WG),
      forCols: 'for (var c = 0u; c < p.cols; c++)',
      sum: (e) => e,
      sum2: (e) => e,
      leader: 'true',
    };
  }
  // The row comes from the workgroup id only, so the early return above each reduction stays uniform.
  return {
    decls: `
var<workgroup> red: array<f32, ${ROW_WG}>;
var<workgroup> red2: array<vec2<f32>, ${ROW_WG}>;
fn wgSum(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
fn wgSum2(v: vec2<f32>, t: u32) -> vec2<f32> {
  red2[t] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red2[t] = red2[t] + red2[t + s]; }
    workgroupBarrier();
  }
  let total = red2[0];
  workgroupBarrier();
  return total;
}`,
    row: '(wid.y * nwg.x + wid.x)',
    forCols: `for (var c = lid.x; c < p.cols; c += ${ROW_WG}u)`,
    sum: (e) => `wgSum(${e}, lid.x)`,
    sum2: (e) => `wgSum2(${e}, lid.x)`,
    leader: 'lid.x == 0u',
  };
}

/** out = (x − mean)·rstd·gamma + beta per row; mean and rstd saved. Two passes for the variance (accurate
 * when |mean| ≫ std, which a one-pass E[x²] − mean² is not in f32). */
export const layerNormWgsl = (L: KernelLayout, v: RowVariant) => {
  const F = rowFrame(v);
  const { x, gamma, beta, out, mean, rstd } = L.id;
  return `
struct P { rows: u32, cols: u32, eps: f32, pad: u32 };
${L.decls('P')}
${F.decls}
@compute @workgroup_size(${ROW_WG})
fn main(${FLAT_BUILTINS}) {
  let row = ${F.row};
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let n = f32(p.cols);
  var s = 0.0;
  ${F.forCols} { s += ${x}[base + c]; }
  let mu = ${F.sum('s')} / n;
  var q = 0.0;
  ${F.forCols} { let d = ${x}[base + c] - mu; q += d * d; }
  let rs = 1.0 / sqrt(${F.sum('q')} / n + p.eps);
  ${F.forCols} {
    ${out}[base + c] = (${x}[base + c] - mu) * rs * ${gamma}[c] + ${beta}[c];
  }
  if (${F.leader}) { ${mean}[row] = mu; ${rstd}[row] = rs; }
}`;
};

/** dx (+)= rstd·(g − mean(g) − xhat·mean(g·xhat)) with g = gamma·dOut, xhat = (x − mean)·rstd. */
export const layerNormDxWgsl = (L: KernelLayout, v: RowVariant) => {
  const F = rowFrame(v);
  const { dOut, x, mean, rstd, gamma, dx } = L.id;
  return `
struct P { rows: u32, cols: u32, acc: u32, pad: u32 };
${L.decls('P')}
${F.decls}
@compute @workgroup_size(${ROW_WG})
fn main(${FLAT_BUILTINS}) {
  let row = ${F.row};
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let mu = ${mean}[row];
  let rs = ${rstd}[row];
  var s = vec2<f32>(0.0, 0.0);
  ${F.forCols} {
    let g = ${gamma}[c] * ${dOut}[base + c];
    s += vec2<f32>(g, g * (${x}[base + c] - mu) * rs);
  }
  let m = ${F.sum2('s')} / f32(p.cols);
  ${F.forCols} {
    let i = base + c;
    let g = ${gamma}[c] * ${dOut}[i];
    let v = rs * (g - m.x - (${x}[i] - mu) * rs * m.y);
    if (p.acc != 0u) { ${dx}[i] = ${dx}[i] + v; } else { ${dx}[i] = v; }
  }
}`;
};
