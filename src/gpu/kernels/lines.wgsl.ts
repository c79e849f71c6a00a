// WGSL for per-line (row or column) operations on a matrix: the Euclidean norm of each line, and scaling each
// line by num[k] / (den[k] + eps). DoRA needs both on whichever axis holds the output features (rows of an
// nn.Linear weight, columns of a GPT-2 Conv1D one); IA3's merge scales rows or columns by its vector.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

/** Threads per workgroup of the line-norm kernel (one line per thread: a fixed summation order). */
export const LINE_WG = 64;

export const lineNormsWgsl = (L: KernelLayout) => `
struct P { rows: u32, cols: u32, perRow: u32 };
${L.decls('P')}
@compute @workgroup_size(${LINE_WG})
fn main(${FLAT_BUILTINS}) {
  let k = ${FLAT_INDEX(LINE_WG)};
  let byRow = p.perRow != 0u;
  let lines = select(p.cols, p.rows, byRow);
  if (k >= lines) { return; }
  let len = select(p.rows, p.cols, byRow);
  var s = 0.0;
  for (var j = 0u; j < len; j++) {
    let i = select(j * p.cols + k, k * p.cols + j, byRow);
    let v = ${L.id.x}[i];
    s += v * v;
  }
  ${L.id.out}[k] = sqrt(s);
}`;

/** out[r,c] = x[r,c]·num[k]/(den[k] + eps) with k = r or c; a missing num or den is 1 (no eps). */
export const scaleLinesWgsl = (L: KernelLayout, hasNum: boolean, hasDen: boolean) => `
struct P { n: u32, cols: u32, perRow: u32, eps: f32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let k = select(i % p.cols, i / p.cols, p.perRow != 0u);
  var f = 1.0;
  ${hasNum ? `f = ${L.id.num}[k];` : ''}
  ${hasDen ? `f = f / (${L.id.den}[k] + p.eps);` : ''}
  ${L.id.out}[i] = ${L.id.x}[i] * f;
}`;
