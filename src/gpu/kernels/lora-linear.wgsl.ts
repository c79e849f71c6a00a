// WGSL for the fused LoRA path (lora-linear.ts): the rank-r products of y += s·(x·Aᵀ)·Bᵀ and of its
// backward, each a row-block kernel that keeps the block's [rows, r] intermediate in workgroup memory,
// and one kernel that writes both weight gradients. r is at most LORA_FUSED_MAX_R (the workgroup array).
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

/** Rows of x (or dy) one workgroup handles; its [rows, r] intermediate lives in workgroup memory. */
export const LORA_ROWS = 8;
/** Largest rank the fused kernels take (the workgroup array holds LORA_ROWS × this). */
export const LORA_FUSED_MAX_R = 64;
const WG = 64;

const ROW_BLOCK_HEAD = `
const R = ${LORA_ROWS}u;
var<workgroup> tile: array<f32, ${LORA_ROWS * LORA_FUSED_MAX_R}>;`;

/**
 * y[m, :] += s·t[m, :]·Bᵀ with t[m, j] = Σ_k x[m, k]·A[j, k] (written out for the backward): the block's
 * t rows are computed once into workgroup memory, then every thread sweeps output columns, reading each
 * row of B once for the block's rows.
 */
export const loraForwardWgsl = (L: KernelLayout) => `
struct P { M: u32, inF: u32, outF: u32, r: u32, s: f32 };
${L.decls('P')}${ROW_BLOCK_HEAD}
@compute @workgroup_size(${WG})
fn main(${FLAT_BUILTINS}) {
  let row0 = (wid.y * nwg.x + wid.x) * R;
  if (row0 >= p.M) { return; }
  let rows = min(R, p.M - row0);
  for (var o = lid.x; o < rows * p.r; o += ${WG}u) {
    let m = o / p.r;
    let j = o % p.r;
    let xo = (row0 + m) * p.inF;
    let ao = j * p.inF;
    var acc = 0.0;
    for (var k = 0u; k < p.inF; k++) { acc += ${L.id.x}[xo + k] * ${L.id.A}[ao + k]; }
    tile[m * p.r + j] = acc;
    ${L.id.t}[(row0 + m) * p.r + j] = acc;
  }
  workgroupBarrier();
  for (var n = lid.x; n < p.outF; n += ${WG}u) {
    let bo = n * p.r;
    for (var m = 0u; m < rows; m++) {
      var acc = 0.0;
      for (var j = 0u; j < p.r; j++) { acc += tile[m * p.r + j] * ${L.id.B}[bo + j]; }
      let yi = (row0 + m) * p.outF + n;
      ${L.id.y}[yi] = ${L.id.y}[yi] + p.s * acc;
    }
  }
}`;

/**
 * u[m, j] = s·Σ_n dy[m, n]·B[n, j] for the block's rows (written out for dA), then, with dx bound,
 * dx[m, i] (+)= Σ_j u[m, j]·A[j, i].
 */
export const loraBackwardRowsWgsl = (L: KernelLayout, hasDx: boolean) => `
struct P { M: u32, inF: u32, outF: u32, r: u32, s: f32, accDx: u32 };
${L.decls('P')}${ROW_BLOCK_HEAD}
@compute @workgroup_size(${WG})
fn main(${FLAT_BUILTINS}) {
  let row0 = (wid.y * nwg.x + wid.x) * R;
  if (row0 >= p.M) { return; }
  let rows = min(R, p.M - row0);
  for (var o = lid.x; o < rows * p.r; o += ${WG}u) {
    let m = o / p.r;
    let j = o % p.r;
    let go = (row0 + m) * p.outF;
    var acc = 0.0;
    for (var n = 0u; n < p.outF; n++) { acc += ${L.id.dy}[go + n] * ${L.id.B}[n * p.r + j]; }
    let v = p.s * acc;
    tile[m * p.r + j] = v;
    ${L.id.u}[(row0 + m) * p.r + j] = v;
  }
${
  hasDx
    ? `  workgroupBarrier();
  for (var i = lid.x; i < p.inF; i += ${WG}u) {
    for (var m = 0u; m < rows; m++) {
      var acc = 0.0;
      for (var j = 0u; j < p.r; j++) { acc += tile[m * p.r + j] * ${L.id.A}[j * p.inF + i]; }
      let di = (row0 + m) * p.inF + i;
      if (p.accDx != 0u) { ${L.id.dx}[di] = ${L.id.dx}[di] + acc; } else { ${L.id.dx}[di] = acc; }
    }
  }`
    : ''
}
}`;

/**
 * One thread per weight-gradient element, reducing over the M rows: the first r·inF threads write
 * dA[j, i] (+)= Σ_m u[m, j]·x[m, i], the next outF·r write dB[n, j] (+)= s·Σ_m dy[m, n]·t[m, j].
 */
export const loraBackwardWeightsWgsl = (L: KernelLayout, hasA: boolean, hasB: boolean) => `
struct P { M: u32, inF: u32, outF: u32, r: u32, s: f32, nA: u32, total: u32, accA: u32, accB: u32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let o = ${FLAT_INDEX()};
  if (o >= p.total) { return; }
${
  hasA
    ? `  if (o < p.nA) {
    let j = o / p.inF;
    let i = o % p.inF;
    var acc = 0.0;
    for (var m = 0u; m < p.M; m++) { acc += ${L.id.u}[m * p.r + j] * ${L.id.x}[m * p.inF + i]; }
    if (p.accA != 0u) { ${L.id.dA}[o] = ${L.id.dA}[o] + acc; } else { ${L.id.dA}[o] = acc; }
    return;
  }`
    : ''
}
${
  hasB
    ? `  let o2 = o - p.nA;
  let n = o2 / p.r;
  let j = o2 % p.r;
  var acc = 0.0;
  for (var m = 0u; m < p.M; m++) { acc += ${L.id.dy}[m * p.outF + n] * ${L.id.t}[m * p.r + j]; }
  let v = p.s * acc;
  if (p.accB != 0u) { ${L.id.dB}[o2] = ${L.id.dB}[o2] + v; } else { ${L.id.dB}[o2] = v; }`
    : ''
}
}`;
