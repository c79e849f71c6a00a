// WGSL for the bottleneck adapters' standalone non-linearities and their derivatives, elementwise: ReLU,
// SiLU ("swish", x·σ(x)) and exact GELU (x·Φ(x), the erf form transformers' get_activation("gelu") uses;
// GPT-2's tanh "gelu_new" stays in gelu.wgsl.ts). One template; the kind is baked into the WGSL text.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export type ActivationKind = 'relu' | 'silu' | 'gelu_erf';

// Φ(x) through erfc(|x|/√2) = t·poly(t)·exp(−z²) (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7): computing
// the small tail directly (instead of 1 − erf) keeps Φ accurate for negative x, and exp underflowing to 0
// gives the right limit.
const COMMON = `
fn sigm(v: f32) -> f32 { return 1.0 / (1.0 + exp(-v)); }
fn phiCdf(v: f32) -> f32 {
  let z = abs(v) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let tail = 0.5 * poly * exp(-z * z);
  return select(tail, 1.0 - tail, v >= 0.0);
}
fn phiPdf(v: f32) -> f32 { return 0.3989422804014327 * exp(-0.5 * v * v); }`;

const FWD: Record<ActivationKind, string> = {
  relu: 'max(v, 0.0)',
  silu: 'v * sigm(v)',
  gelu_erf: 'v * phiCdf(v)',
};

// PyTorch's conventions: ReLU's derivative at 0 is 0.
const DERIV: Record<ActivationKind, string> = {
  relu: 'select(0.0, 1.0, v > 0.0)',
  silu: 'sigm(v) * (1.0 + v * (1.0 - sigm(v)))',
  gelu_erf: 'phiCdf(v) + v * phiPdf(v)',
};

/** out = f(x). */
export const activationWgsl = (L: KernelLayout, kind: ActivationKind) => `
struct P { n: u32 };
${L.decls('P')}
${COMMON}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let v = ${L.id.x}[i];
  ${L.id.out}[i] = ${FWD[kind]};
}`;

/** dx (+)= dOut·f'(x). */
export const activationBackwardWgsl = (L: KernelLayout, kind: ActivationKind) => `
struct P { n: u32, acc: u32 };
${L.decls('P')}
${COMMON}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let v = ${L.id.x}[i];
  let g = ${L.id.dOut}[i] * (${DERIV[kind]});
  if (p.acc != 0u) { ${L.id.dx}[i] = ${L.id.dx}[i] + g; } else { ${L.id.dx}[i] = g; }
}`;
