// WGSL for the `rows` method's index maps: k whole rows (or columns) of a [*, cols] matrix picked by index.
// Element (i, l) of the compact [k, len] operand sits at l·cols + idx[i] (byColumn: column idx[i] of a
// [len, cols] matrix, e.g. activations [tokens, out]) or at idx[i]·cols + l (a row of the weight stored
// [out, in]). Indices are distinct, so no two threads touch one element.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

const POS = `
fn pos(i: u32, l: u32) -> u32 {
  let r = u32(idx_at(i));
  if (p.byColumn != 0u) { return l * p.cols + r; }
  return r * p.cols + l;
}`;

/** out[pos(i, l)] += alpha·x[i·len + l]. */
export const indexAddWgsl = (L: KernelLayout) => `
struct P { k: u32, len: u32, cols: u32, byColumn: u32, alpha: f32 };
${L.decls('P')}
fn idx_at(i: u32) -> i32 { return ${L.id.idx}[i]; }
${POS}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let e = ${FLAT_INDEX()};
  if (e >= p.k * p.len) { return; }
  let q = pos(e / p.len, e % p.len);
  ${L.id.out}[q] = ${L.id.out}[q] + p.alpha * ${L.id.x}[e];
}`;

/** out[i·len + l] (+)= x[pos(i, l)]. */
export const indexGatherWgsl = (L: KernelLayout) => `
struct P { k: u32, len: u32, cols: u32, byColumn: u32, acc: u32 };
${L.decls('P')}
fn idx_at(i: u32) -> i32 { return ${L.id.idx}[i]; }
${POS}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let e = ${FLAT_INDEX()};
  if (e >= p.k * p.len) { return; }
  let g = ${L.id.x}[pos(e / p.len, e % p.len)];
  if (p.acc != 0u) { ${L.id.out}[e] = ${L.id.out}[e] + g; } else { ${L.id.out}[e] = g; }
}`;
