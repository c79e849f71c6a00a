// WGSL for the Llama MLP gate, out = silu(gate)·up, and its gradients, elementwise.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

// σ(g) = 1/(1 + exp(−g)): exp overflowing to inf for very negative g gives σ = 0, the right limit.
const SIG = 'fn sigmoid(g: f32) -> f32 { return 1.0 / (1.0 + exp(-g)); }';

/** out = gate·σ(gate)·up. */
export const swigluWgsl = (L: KernelLayout) => `
struct P { n: u32 };
${L.decls('P')}
${SIG}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let g = ${L.id.gate}[i];
  ${L.id.out}[i] = g * sigmoid(g) * ${L.id.up}[i];
}`;

/** dUp = dOut·silu(gate); dGate = dOut·up·σ(gate)·(1 + gate·(1 − σ(gate))). Either may be absent. */
export const swigluBackwardWgsl = (L: KernelLayout, wantGate: boolean, wantUp: boolean) => `
struct P { n: u32 };
${L.decls('P')}
${SIG}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let g = ${L.id.gate}[i];
  let d = ${L.id.dOut}[i];
  let s = sigmoid(g);
  ${wantGate ? `let dg = d * ${L.id.up}[i] * s * (1.0 + g * (1.0 - s));` : ''}
  ${wantUp ? `let du = d * g * s;` : ''}
  ${wantGate ? `${L.id.dGate}[i] = dg;` : ''}
  ${wantUp ? `${L.id.dUp}[i] = du;` : ''}
}`;
