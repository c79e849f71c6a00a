// WGSL for sparse fine-tuning's index maps over a dense weight: scatter-add of k values into it and the
// gather of k entries out of it (the scatter's backward). Indices are flat row-major in the canonical
// [out, in] layout (docs/METHODS.md); with `transposed` the weight is stored [in, out] (GPT-2 Conv1D) and the
// kernel maps each index to its stored position, so one index file serves both layouts.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

// c = o·cols + i in [rows=out, cols=in]; stored [in, out] puts it at i·rows + o.
const POS = `
fn pos(c: u32) -> u32 {
  if (p.transposed != 0u) { return (c % p.cols) * p.rows + c / p.cols; }
  return c;
}`;

/** w[pos(idx[j])] += alpha·values[j]; indices are distinct, so no two threads touch one element. */
export const scatterAddWgsl = (L: KernelLayout) => `
struct P { k: u32, rows: u32, cols: u32, transposed: u32, alpha: f32 };
${L.decls('P')}
${POS}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let j = ${FLAT_INDEX()};
  if (j >= p.k) { return; }
  let q = pos(u32(${L.id.idx}[j]));
  ${L.id.w}[q] = ${L.id.w}[q] + p.alpha * ${L.id.values}[j];
}`;

/** out[j] (+)= x[pos(idx[j])]. */
export const gatherWgsl = (L: KernelLayout) => `
struct P { k: u32, rows: u32, cols: u32, transposed: u32, acc: u32 };
${L.decls('P')}
${POS}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let j = ${FLAT_INDEX()};
  if (j >= p.k) { return; }
  let g = ${L.id.x}[pos(u32(${L.id.idx}[j]))];
  if (p.acc != 0u) { ${L.id.out}[j] = ${L.id.out}[j] + g; } else { ${L.id.out}[j] = g; }
}`;
