// WGSL for rotary position embedding in the HF "rotate_half" layout over x [B, T, H, D]: pair (j, j + D/2)
// of each head rotates by angle p·theta^(−2j/D), or by its negative (the inverse, which is the backward).
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

/**
 * sin and cos of an f32 angle to about 1 ulp, independent of the driver: WGSL only bounds the builtins'
 * error to 2⁻¹¹ inside [−π, π] (SwiftShader's is ~2e-4) and says nothing outside it, while RoPE angles
 * reach thousands of radians. The angle is reduced by π/2 in two parts (1.5703125 has 8 significant bits,
 * so q·1.5703125 is exact for any q below 2¹⁶, i.e. angles up to ~100000 rad), then Taylor polynomials on
 * [−π/4, π/4] (truncation below 1e-11) and the quadrant pick the result.
 */
const SINCOS = `
const TWO_OVER_PI = 0.6366197723675814;
const PIO2_HI = 1.5703125;
const PIO2_LO = 4.8382679489661923e-4;
fn sincos(a: f32) -> vec2<f32> {
  let q = round(a * TWO_OVER_PI);
  let y = (a - q * PIO2_HI) - q * PIO2_LO;
  let z = y * y;
  let s = y + y * z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0
    + z * (-1.0 / 39916800.0)))));
  let c = 1.0 + z * (-0.5 + z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0
    + z * (-1.0 / 3628800.0 + z * (1.0 / 479001600.0))))));
  switch (i32(q) & 3) {
    case 0: { return vec2<f32>(s, c); }
    case 1: { return vec2<f32>(c, -s); }
    case 2: { return vec2<f32>(-s, -c); }
    default: { return vec2<f32>(-c, s); }
  }
}`;

/**
 * One invocation per rotated pair; the angle is position·invFreq in f32, as Hugging Face forms it. invFreq
 * = 2^(−j·l2) with l2 = 2·log2(theta)/D given as hi + lo parts (hi on a 2⁻¹² grid, so j·hi is exact): the
 * integer part of the exponent goes to ldexp and only the fraction to exp2, so invFreq carries exp2's own
 * error (~1e-7) instead of the ~1e-6 an f32 exponent near −13 would add.
 */
export const ropeWgsl = (L: KernelLayout, withPositions: boolean, withPair = false) => `
struct P { n: u32, T: u32, H: u32, half: u32, D: u32, posOffset: u32, inverse: u32, l2hi: f32, l2lo: f32,
  n1: u32, H2: u32, stride2: u32 };
${L.decls('P')}
${SINCOS}
fn angle(bt: u32, j: u32) -> vec2<f32> {
  let pos = ${withPositions ? `f32(${L.id.positions}[bt])` : 'f32(p.posOffset + bt % p.T)'};
  let th = f32(j) * p.l2hi;
  let whole = floor(th);
  let invFreq = ldexp(exp2(-((th - whole) + f32(j) * p.l2lo)), -i32(whole));
  let sc = sincos(pos * invFreq);
  return vec2<f32>(select(sc.x, -sc.x, p.inverse != 0u), sc.y);
}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let idx = ${FLAT_INDEX()};
  if (idx >= p.n) { return; }${
    withPair
      ? `
  if (idx >= p.n1) {
    // The pair: its own heads H2, batch items stride2 apart (e.g. rows of a KV cache).
    let i = idx - p.n1;
    let j2 = i % p.half;
    let row2 = i / p.half; // (b, t, h) flattened over H2 heads
    let bt2 = row2 / p.H2;
    let b = bt2 / p.T;
    let k1 = b * p.stride2 + (row2 - b * p.T * p.H2) * p.D + j2;
    let k2 = k1 + p.half;
    let r = angle(bt2, j2);
    let y1 = ${L.id.x2}[k1];
    let y2 = ${L.id.x2}[k2];
    ${L.id.out2}[k1] = y1 * r.y - y2 * r.x;
    ${L.id.out2}[k2] = y2 * r.y + y1 * r.x;
    return;
  }`
      : ''
  }
  let j = idx % p.half;
  let row = idx / p.half; // (b, t, h) flattened
  let bt = row / p.H;     // b·T + t
  let r = angle(bt, j);
  let cs = r.y;
  let sn = r.x;
  let i1 = row * p.D + j;
  let i2 = i1 + p.half;
  let x1 = ${L.id.x}[i1];
  let x2 = ${L.id.x}[i2];
  ${L.id.out}[i1] = x1 * cs - x2 * sn;
  ${L.id.out}[i2] = x2 * cs + x1 * sn;
}`;
