// WGSL for GPT-2's "gelu_new" (tanh approximation) and its derivative, elementwise.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

// With u = √(2/π)(x + 0.044715x³): 1 + tanh(u) = 2σ(2u) and 1 − tanh(u)² = 4σ(2u)σ(−2u). Written with
// sigmoids there is no 1 ± t cancellation where tanh saturates (relative accuracy of gelu and its
// derivative for negative x), and exp overflowing to inf gives the right limit 0 instead of inf/inf.
const GELU_COMMON = `
const K0 = 0.7978845608028654; // sqrt(2/pi)
const K1 = 0.044715;
fn geluU(v: f32) -> f32 { return K0 * (v + K1 * v * v * v); }`;

/** out = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export const geluWgsl = (L: KernelLayout) => `
struct P { n: u32 };
${L.decls('P')}
${GELU_COMMON}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let v = ${L.id.x}[i];
  ${L.id.out}[i] = v / (1.0 + exp(-2.0 * geluU(v)));
}`;

/** dx (+)= dOut·(0.5(1 + t) + 0.5·x·(1 − t²)·√(2/π)(1 + 3·0.044715x²)). */
export const geluBackwardWgsl = (L: KernelLayout) => `
struct P { n: u32, acc: u32 };
${L.decls('P')}
${GELU_COMMON}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let v = ${L.id.x}[i];
  let u = geluU(v);
  let sp = 1.0 / (1.0 + exp(-2.0 * u)); // (1 + tanh u) / 2
  let sm = 1.0 / (1.0 + exp(2.0 * u)); // (1 − tanh u) / 2
  let d = sp + 2.0 * v * sp * sm * K0 * (1.0 + 3.0 * K1 * v * v);
  let g = ${L.id.dOut}[i] * d;
  if (p.acc != 0u) { ${L.id.dx}[i] = ${L.id.dx}[i] + g; } else { ${L.id.dx}[i] = g; }
}`;
