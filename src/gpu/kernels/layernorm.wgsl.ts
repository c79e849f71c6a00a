// WGSL for LayerNorm forward and its input gradient, built on the row-reduction frame (thread per row or
// workgroup per row from rows.ts, subgroup sums from rows-subgroup.ts; all deterministic). dGamma/dBeta
// are column sums and go through rows.ts's column reduction.
import type { KernelLayout } from './bindings';
import { ROW_WG } from './rows';
import { type NormVariant, normFrame } from './rows-subgroup';

/** out = (x − mean)·rstd·gamma + beta per row; mean and rstd saved. Two passes for the variance (accurate
 * when |mean| ≫ std, which a one-pass E[x²] − mean² is not in f32). */
export const layerNormWgsl = (L: KernelLayout, v: NormVariant) => {
  const F = normFrame(v);
  const { x, gamma, beta, out, mean, rstd } = L.id;
  return `${F.enable}
struct P { rows: u32, cols: u32, eps: f32, pad: u32 };
${L.decls('P')}
${F.decls}
@compute @workgroup_size(${ROW_WG})
fn main(${F.builtins}) {
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
export const layerNormDxWgsl = (L: KernelLayout, v: NormVariant) => {
  const F = normFrame(v);
  const { dOut, x, mean, rstd, gamma, dx } = L.id;
  return `${F.enable}
struct P { rows: u32, cols: u32, acc: u32, pad: u32 };
${L.decls('P')}
${F.decls}
@compute @workgroup_size(${ROW_WG})
fn main(${F.builtins}) {
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
