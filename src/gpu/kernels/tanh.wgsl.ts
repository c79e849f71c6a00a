// WGSL for tanh and its backward, elementwise (prefix tuning's reparametrisation MLP, PEFT's PrefixEncoder).
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

// tanh without the builtin: some WebGPU backends return NaN from tanh for large |x| (exp overflow inside).
// For |x| ≥ 0.25, with e = exp(−2|x|) ≤ 0.61: tanh|x| = (1 − e)/(1 + e), no overflow and 1 − e ≥ 0.39 (no
// cancellation). Below that, the odd Taylor series to x⁹ (next term < 3e-9 relative) keeps relative accuracy
// near 0, where (1 − e) would cancel.
const TANH_FN = `
fn tanhStable(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.25) {
    let s = v * v;
    return v * (1.0 + s * (-1.0 / 3.0 + s * (2.0 / 15.0 + s * (-17.0 / 315.0 + s * (62.0 / 2835.0)))));
  }
  let e = exp(-2.0 * a);
  return sign(v) * (1.0 - e) / (1.0 + e);
}`;

/** out = tanh(x). */
export const tanhWgsl = (L: KernelLayout) => `
struct P { n: u32 };
${L.decls('P')}
${TANH_FN}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  ${L.id.out}[i] = tanhStable(${L.id.x}[i]);
}`;

/** dx (+)= dOut·(1 − y²), from the saved output y = tanh(x) (as PyTorch's backward does). */
export const tanhBackwardWgsl = (L: KernelLayout) => `
struct P { n: u32, acc: u32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let y = ${L.id.y}[i];
  let g = ${L.id.dOut}[i] * (1.0 - y * y);
  if (p.acc != 0u) { ${L.id.dx}[i] = ${L.id.dx}[i] + g; } else { ${L.id.dx}[i] = g; }
}`;
