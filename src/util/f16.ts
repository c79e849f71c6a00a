// IEEE binary16 conversions: float → half bits (round to nearest, ties to even; infinities, NaN and
// subnormals exact) and back. Shared by the GPU's half-precision weight storage (src/gpu/f16.ts) and the
// safetensors reader/writer (src/formats/), so there is one implementation of the rounding.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** binary16 bits of a float32 given as its bits; exact round-to-nearest-even. */
function halfFromF32Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) {
    // Infinity, or NaN kept quiet with the top of its payload.
    return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  }
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: the value in units of 2^-24 is (mant | implicit 1) · 2^(exp − 126).
    const shift = 126 - exp;
    if (shift > 24) return sign; // below half of 2^-24: rounds to zero (f32 subnormals included)
    const m = mant | 0x800000;
    let q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && q & 1)) q++;
    return sign | q; // q = 0x400 is the smallest normal, which is the right bit pattern
  }
  let q = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to infinity: both are the right bits.
  if (rem > 0x1000 || (rem === 0x1000 && q & 1)) q++;
  return sign | q;
}

/** Round half to even for a non-negative float64 whose integer part is small. */
function roundHalfEven(v: number): number {
  const r = Math.floor(v);
  const d = v - r;
  if (d > 0.5 || (d === 0.5 && r % 2 === 1)) return r + 1;
  return r;
}

/**
 * binary16 bits of a float64 that is not a float32, rounded once from the exact value (going through
 * float32 first would round twice and can miss a tie by one unit).
 */
function halfFromF64(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  // 65520 is the midpoint between 65504 (max half) and 65536; the tie goes to the even one: infinity.
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // Scaling by a power of two is exact, so the mantissa in [1024, 2048) rounds from the true value.
  const q = roundHalfEven(a * 2 ** (10 - e));
  return sign | (((e + 15) << 10) + q - 1024);
}

/** Float values → binary16 bits, round to nearest even; NaN, ±infinity, ±0 and subnormals handled. */
export function f32ToF16Bits(x: ArrayLike<number>): Uint16Array {
  const n = x.length;
  const out = new Uint16Array(n);
  if (x instanceof Float32Array) {
    // Fast path for weights: read the float32 bits directly.
    const bits = new Uint32Array(x.buffer, x.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = halfFromF32Bits(bits[i]);
    return out;
  }
  for (let i = 0; i < n; i++) {
    const v = x[i];
    f32[0] = v;
    out[i] = f32[0] === v || Number.isNaN(v) ? halfFromF32Bits(u32[0]) : halfFromF64(v);
  }
  return out;
}

/** binary16 bits → float32 values (exact: every half is a float32). */
export function f16BitsToF32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < h.length; i++) {
    const v = h[i];
    const sign = (v & 0x8000) << 16;
    const exp = (v >>> 10) & 0x1f;
    const mant = v & 0x3ff;
    if (exp === 0) {
      const s = mant * 2 ** -24;
      out[i] = v & 0x8000 ? -s : s;
    } else if (exp === 31) {
      bits[i] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else {
      bits[i] = (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
    }
  }
  return out;
}

/** One value → binary16 bits (the value is first a float32, as a checkpoint's F32 tensor is). */
export function halfBits(x: number): number {
  f32[0] = x;
  return halfFromF32Bits(u32[0]);
}

/** binary16 bits → its exact value. */
export function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
