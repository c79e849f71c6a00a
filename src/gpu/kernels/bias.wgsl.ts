// WGSL for bias add (x[r,c] += bias[c]); bias grad is a column sum (rows.ts).
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export const biasAddWgsl = (L: KernelLayout) => `
struct P { n: u32, cols: u32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  ${L.id.x}[i] = ${L.id.x}[i] + ${L.id.bias}[i % p.cols];
}`;
