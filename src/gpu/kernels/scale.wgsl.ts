// WGSL for scaling: out (+)= alpha·x, and the per-column product out[r,c] (+)= x[r,c]·v[c] that IA3
// vectors and DoRA magnitudes apply (and whose input gradient is the same product with dOut).
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export const scaleWgsl = (L: KernelLayout) => `
struct P { n: u32, alpha: f32, acc: u32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let v = p.alpha * ${L.id.x}[i];
  if (p.acc != 0u) { ${L.id.out}[i] = ${L.id.out}[i] + v; } else { ${L.id.out}[i] = v; }
}`;

export const mulVecWgsl = (L: KernelLayout) => `
struct P { n: u32, cols: u32, acc: u32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let v = ${L.id.x}[i] * ${L.id.v}[i % p.cols];
  if (p.acc != 0u) { ${L.id.out}[i] = ${L.id.out}[i] + v; } else { ${L.id.out}[i] = v; }
}`;
