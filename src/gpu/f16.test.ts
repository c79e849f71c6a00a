// Tests of the binary16 conversions against known bit patterns, rounding ties, the float64 (single
// rounding) path, and the packed upload layout that matmul's bF16 reads.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { randn } from '../../test/helpers/numeric';
import { f16BitsToF32, f32ToF16Bits, uploadF16 } from './f16';

const bits = (x: number[]) => Array.from(f32ToF16Bits(x));
const bitsF32 = (x: number[]) => Array.from(f32ToF16Bits(Float32Array.from(x)));

// Known pairs: value → binary16 bits.
const KNOWN: Array<[number, number]> = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3c00],
  [-2, 0xc000],
  [0.5, 0x3800],
  [65504, 0x7bff],
  [-65504, 0xfbff],
  [2 ** -14, 0x0400], // smallest normal
  [2 ** -24, 0x0001], // smallest subnormal
  [1023 * 2 ** -24, 0x03ff], // largest subnormal
  [Number.POSITIVE_INFINITY, 0x7c00],
  [Number.NEGATIVE_INFINITY, 0xfc00],
  [1 / 3, 0x3555],
  [0.1, 0x2e66],
];

describe('f16 conversions', () => {
  it('gives the known bit patterns (float64 input and Float32Array fast path)', () => {
    const xs = KNOWN.map(([x]) => x);
    const expected = KNOWN.map(([, h]) => h);
    expect(bits(xs)).toEqual(expected);
    // 1/3 and 0.1 differ as float32 but round to the same half.
    expect(bitsF32(xs)).toEqual(expected);
  });

  it('handles NaN as a quiet NaN, and -0 with its sign', () => {
    for (const h of [...bits([Number.NaN]), ...bitsF32([Number.NaN])]) {
      expect(h & 0x7c00).toBe(0x7c00);
      expect(h & 0x3ff).not.toBe(0);
    }
    const back = f16BitsToF32(Uint16Array.of(0x7e00, 0xfe00, 0x8000));
    expect(Number.isNaN(back[0]) && Number.isNaN(back[1])).toBe(true);
    expect(Object.is(back[2], -0)).toBe(true);
  });

  it('rounds ties to even and overflows to infinity past 65520', () => {
    const ulp1 = 2 ** -10; // spacing of halves in [1, 2)
    expect(bits([1 + ulp1 / 2])).toEqual([0x3c00]); // tie, 0x3c00 is even: down
    expect(bits([1 + (3 * ulp1) / 2])).toEqual([0x3c02]); // tie between 0x3c01 and 0x3c02: up to even
    expect(bits([1 + ulp1 / 2 + 2 ** -30])).toEqual([0x3c01]); // just above the tie: up
    expect(bits([1 + ulp1 / 2 - 2 ** -30])).toEqual([0x3c00]);
    expect(bits([65519.99, 65520, 70000, 1e300])).toEqual([0x7bff, 0x7c00, 0x7c00, 0x7c00]);
    expect(bitsF32([65519, 65520])).toEqual([0x7bff, 0x7c00]);
    // Subnormal ties: 2^-25 is halfway between 0 and 2^-24 (to even: 0); 3·2^-25 goes to 2·2^-24.
    expect(bits([2 ** -25, 3 * 2 ** -25, 2 ** -25 + 2 ** -40])).toEqual([0x0000, 0x0002, 0x0001]);
    expect(bitsF32([2 ** -25, 3 * 2 ** -25, -(2 ** -26), 1e-40])).toEqual([0x0000, 0x0002, 0x8000, 0]);
    // Rounding the largest subnormal's neighbourhood up into the normals carries correctly.
    expect(bits([(1023.5 + 1e-3) * 2 ** -24])).toEqual([0x0400]);
    // Mantissa carry into the exponent: 2047.5/1024 ties up to 2.
    expect(bits([2 - ulp1 / 2])).toEqual([0x4000]);
  });

  it('rounds once from float64 (no double rounding through float32)', () => {
    // 1 + 2^-11 + 2^-40 rounds to float32 as exactly the tie 1 + 2^-11, which would go down to 1.
    const x = 1 + 2 ** -11 + 2 ** -40;
    expect(Math.fround(x)).toBe(1 + 2 ** -11);
    expect(bits([x])).toEqual([0x3c01]);
  });

  it('round-trips every finite half exactly, and agrees between the two paths', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = f16BitsToF32(all);
    const again = f32ToF16Bits(f);
    const wrong: string[] = [];
    for (let i = 0; i < 65536; i++) {
      const isNan = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (!isNan && again[i] !== i) wrong.push(`0x${i.toString(16)} → 0x${again[i].toString(16)}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    const xs = randn(4096, 3, 100);
    const viaF32 = f32ToF16Bits(Float32Array.from(xs));
    const viaF64 = f32ToF16Bits(Array.from(Float32Array.from(xs)));
    expect(Array.from(viaF64)).toEqual(Array.from(viaF32));
    // Relative error of a normal half is at most 2^-11.
    const back = f16BitsToF32(f32ToF16Bits(xs));
    let worst = 0;
    for (let i = 0; i < xs.length; i++) {
      if (Math.abs(xs[i]) > 2 ** -14) worst = Math.max(worst, Math.abs(back[i] - xs[i]) / Math.abs(xs[i]));
    }
    expect(worst).toBeLessThanOrEqual(2 ** -11);
  });
});

describe('uploadF16', () => {
  it('packs two halves per u32 word, low half first, odd counts padded', async () => {
    const ctx = await testGpu();
    const data = [1, -2, 0.5, 65504, 2 ** -24];
    const buf = uploadF16(ctx, data, 'frozen', 'f16-test');
    const words = new Uint32Array(await ctx.readBytes(buf, 12));
    expect(Array.from(words)).toEqual([0xc0003c00, 0x7bff3800, 0x00000001]);
    expect(buf.category).toBe('frozen');
    ctx.arena.free(buf);
  });
});
