// WGSL for RMSNorm (HF LlamaRMSNorm: x·rsqrt(mean(x²) + eps)·weight) forward and its input gradient.
// Rows reduce through the row frame (rows.ts: thread or workgroup per row; rows-subgroup.ts: subgroupAdd);
// dGamma is a column sum (rows.ts).
import type { KernelLayout } from './bindings';
import { ROW_WG } from './rows';
import { type NormVariant, normFrame } from './rows-subgroup';

/** out = x·rstd·gamma with rstd = 1/sqrt(mean(x²) + eps), saved per row for the backward. */
export const rmsNormWgsl = (L: KernelLayout, v: NormVariant) => {
  const F = normFrame(v);
  const { x, gamma, out, rstd } = L.id;
  return `${F.enable}
struct P { rows: u32, cols: u32, eps: f32, pad: u32 };
${L.decls('P')}
${F.decls}
@compute @workgroup_size(${ROW_WG})
fn main(${F.builtins}) {
  let row = ${F.row};
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var q = 0.0;
  ${F.forCols} { let v = ${x}[base + c]; q += v * v; }
  let rs = 1.0 / sqrt(${F.sum('q')} / f32(p.cols) + p.eps);
  ${F.forCols} { ${out}[base + c] = ${x}[base + c] * rs * ${gamma}[c]; }
  if (${F.leader}) { ${rstd}[row] = rs; }
}`;
};

/** dx (+)= rstd·(g − xhat·mean(g·xhat)) with g = gamma·dOut, xhat = x·rstd. */
export const rmsNormDxWgsl = (L: KernelLayout, v: NormVariant) => {
  const F = normFrame(v);
  const { dOut, x, rstd, gamma, dx } = L.id;
  return `${F.enable}
struct P { rows: u32, cols: u32, acc: u32, pad: u32 };
${L.decls('P')}
${F.decls}
@compute @workgroup_size(${ROW_WG})
fn main(${F.builtins}) {
  let row = ${F.row};
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let rs = ${rstd}[row];
  var s = 0.0;
  ${F.forCols} { s += ${gamma}[c] * ${dOut}[base + c] * ${x}[base + c] * rs; }
  let m = ${F.sum('s')} / f32(p.cols);
  ${F.forCols} {
    let i = base + c;
    let v = rs * (${gamma}[c] * ${dOut}[i] - ${x}[i] * rs * m);
    if (p.acc != 0u) { ${dx}[i] = ${dx}[i] + v; } else { ${dx}[i] = v; }
  }
}`;
};
