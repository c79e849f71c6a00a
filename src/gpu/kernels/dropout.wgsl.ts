// WGSL for inverted dropout with a counter-based mask: element i is kept when a hash of (seed, stream, i)
// clears an integer threshold, so the backward pass (and the CPU twin, bit for bit) regenerates the mask
// from the same three numbers instead of storing it. The hash is spelled out once here and mirrored in
// dropout.ref.ts; change both together.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

/** Elements are kept when their 24 hash bits are ≥ this, so P(keep) = 1 − p to within 2⁻²⁴. */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  return Math.min(2 ** 24, Math.ceil(p * 2 ** 24));
}

/** The factor kept elements are multiplied by: 1/(1−p), and 0 when everything is dropped (p = 1). */
export const dropoutScale = (p: number): number => (p >= 1 ? 0 : 1 / (1 - p));

/**
 * WGSL helpers: `mix32` is a bijective 32-bit avalanche (xor-shift / multiply, "lowbias32" constants);
 * `dropoutBits` keys it by seed and stream and returns 24 uniform bits for element i.
 */
export const DROPOUT_HASH = `
fn mix32(x0: u32) -> u32 {
  var x = x0;
  x ^= x >> 16u; x *= 0x7feb352du;
  x ^= x >> 15u; x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}
fn dropoutBits(seed: u32, stream: u32, i: u32) -> u32 {
  let key = mix32(seed ^ mix32(stream ^ 0x9e3779b9u));
  return mix32(mix32(i ^ key) + key) >> 8u;
}`;

/**
 * out[i] = keep(i) ? x[i]·scale : 0 where keep(i) ⇔ bits(i) ≥ threshold (threshold = ⌈p·2²⁴⌉).
 * `backward` computes dx from dOut with the same mask; `accumulate` adds into the output instead. In
 * place (out = x) the planner merges the two bindings.
 */
export const dropoutWgsl = (L: KernelLayout, accumulate: boolean) => `
struct P { n: u32, threshold: u32, seed: u32, stream: u32, scale: f32 };
${L.decls('P')}
${DROPOUT_HASH}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let y = select(0.0, ${L.id.x}[i] * p.scale, dropoutBits(p.seed, p.stream, i) >= p.threshold);
  ${accumulate ? `${L.id.out}[i] = ${L.id.out}[i] + y;` : `${L.id.out}[i] = y;`}
}`;
