// WGSL for N:M structured sparse updates used in place (sparse fine-tuning with mask=nm): the update ΔW
// [out, in] holds exactly n entries in every group of m consecutive inputs, so row o's entries are the
// contiguous slice [o·kr, (o+1)·kr) of the values (kr = in·n/m) and group g's are slots g·n .. g·n+n-1 of
// it. The kernels read the compact values and their column indices directly — y += x·ΔWᵀ, dValues and
// dx — and never build ΔW or a dense dW. idx holds flat canonical [out, in] indices (as sparse's file).
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

const STRUCT = 'struct P { rows: u32, outF: u32, inF: u32, n: u32, m: u32, acc: u32 };';

/** y[r, o] (+)= Σ_j v[o·kr + j]·x[r, col(o·kr + j)]: one thread per (r, o). */
export const nmMatmulWgsl = (L: KernelLayout) => `
${STRUCT}
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let e = ${FLAT_INDEX()};
  if (e >= p.rows * p.outF) { return; }
  let r = e / p.outF;
  let o = e % p.outF;
  let kr = p.inF / p.m * p.n;
  let base = o * p.inF;
  var s = 0.0;
  for (var j = o * kr; j < (o + 1u) * kr; j++) {
    let c = u32(${L.id.idx}[j]) - base;
    s += ${L.id.v}[j] * ${L.id.x}[r * p.inF + c];
  }
  if (p.acc != 0u) { ${L.id.y}[e] = ${L.id.y}[e] + s; } else { ${L.id.y}[e] = s; }
}`;

/** dv[e] (+)= Σ_r dy[r, o]·x[r, col(e)], o = e / kr: one thread per value (a sampled dense product). */
export const nmGradValuesWgsl = (L: KernelLayout) => `
${STRUCT}
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let e = ${FLAT_INDEX()};
  let kr = p.inF / p.m * p.n;
  if (e >= p.outF * kr) { return; }
  let o = e / kr;
  let c = u32(${L.id.idx}[e]) - o * p.inF;
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    s += ${L.id.dy}[r * p.outF + o] * ${L.id.x}[r * p.inF + c];
  }
  if (p.acc != 0u) { ${L.id.dv}[e] = ${L.id.dv}[e] + s; } else { ${L.id.dv}[e] = s; }
}`;

/**
 * dx[r, c] (+)= Σ_o dy[r, o]·ΔW[o, c]: one thread per (r, group g); for each output row it reads only the
 * n slots of g (the structure says where they are) and adds into the group's m outputs kept in registers,
 * so the work is rows·k multiply-adds — the compact size — with no search and no atomics. m is a constant
 * of the kernel text.
 */
export const nmGradInputWgsl = (L: KernelLayout, m: number) => `
${STRUCT}
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let e = ${FLAT_INDEX()};
  let groups = p.inF / ${m}u;
  if (e >= p.rows * groups) { return; }
  let r = e / groups;
  let g = e % groups;
  let kr = groups * p.n;
  var acc: array<f32, ${m}>;
  for (var t = 0u; t < ${m}u; t++) { acc[t] = 0.0; }
  for (var o = 0u; o < p.outF; o++) {
    let d = ${L.id.dy}[r * p.outF + o];
    let j0 = o * kr + g * p.n;
    let c0 = o * p.inF + g * ${m}u;
    for (var t = 0u; t < p.n; t++) {
      let slot = u32(${L.id.idx}[j0 + t]) - c0;
      acc[slot] += d * ${L.id.v}[j0 + t];
    }
  }
  let x0 = r * p.inF + g * ${m}u;
  for (var t = 0u; t < ${m}u; t++) {
    if (p.acc != 0u) { ${L.id.dx}[x0 + t] = ${L.id.dx}[x0 + t] + acc[t]; } else { ${L.id.dx}[x0 + t] = acc[t]; }
  }
}`;
