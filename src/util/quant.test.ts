// Tests of the frozen-weight formats' host side: NF4's code values against QLoRA's construction, hand-made
// int8/nf4/bf16 encodings, the word layouts the kernels read, and the round-trip error bounds the docs
// state (int8 ≤ s/2 per element, nf4 ≤ NF4_HALF_GAP·absmax, f16/bf16 half an ulp).
import { describe, expect, it } from 'vitest';
import {
  bf16Bits,
  bf16Value,
  dequantizeWeight,
  encodeWeight,
  int8At,
  NF4_BLOCK,
  NF4_CODES,
  NF4_HALF_GAP,
  nearestNf4,
  nf4At,
  quantizeInt8,
  quantizeNf4,
  roundTripWeight,
  weightBytes,
} from './quant';

/** erf by its Taylor series: exact to ~1e-15 for |x| < 3, enough to invert the normal CDF by bisection. */
function erf(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const normCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
function normPpf(p: number): number {
  let lo = -6;
  let hi = 6;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (normCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
const linspace = (a: number, b: number, n: number) =>
  Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));

function rand(n: number, seed = 1): Float64Array {
  let s = seed;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = (s / 2 ** 31) * 2 - 1;
  }
  return out;
}

describe('NF4 codes', () => {
  it('are QLoRA create_normal_map(offset=0.9677083): 8 positive and 7 negative normal quantiles, and 0', () => {
    const offset = 0.9677083;
    const pos = linspace(offset, 0.5, 9).slice(0, -1).map(normPpf);
    const neg = linspace(offset, 0.5, 8)
      .slice(0, -1)
      .map((p) => -normPpf(p));
    const v = [...pos, 0, ...neg].sort((a, b) => a - b);
    const max = Math.max(...v.map(Math.abs));
    expect(NF4_CODES).toHaveLength(16);
    for (let c = 0; c < 16; c++) expect(NF4_CODES[c]).toBeCloseTo(v[c] / max, 6);
    // A few values exactly as bitsandbytes' table prints them.
    expect(NF4_CODES[0]).toBe(-1);
    expect(NF4_CODES[7]).toBe(0);
    expect(NF4_CODES[15]).toBe(1);
    expect(NF4_CODES[8]).toBe(Math.fround(0.07958029955625534));
    expect(NF4_CODES[1]).toBe(Math.fround(-0.6961928009986877));
    expect(NF4_HALF_GAP).toBeCloseTo((1 - 0.6961928009986877) / 2, 7);
  });
});

describe('int8 per output channel', () => {
  it('quantizes a hand-computed [2,3] out_in matrix, one scale per row, four bytes per word', () => {
    const w = [1.27, -0.635, 0.01, 0, 0.5, -0.25];
    const { words, scales } = quantizeInt8(w, [2, 3], 'out_in');
    expect(Array.from(scales)).toEqual([Math.fround(0.01), Math.fround(0.5 / 127)]);
    const q = Array.from({ length: 6 }, (_, e) => int8At(words, e));
    expect(q).toEqual([127, -64, 1, 0, 127, -64]); // -63.5 rounds half to even: -64
    expect(words).toHaveLength(2);
    // Word 0 holds elements 0..3 in bytes 0..3: 127, -64 (0xc0), 1, 0.
    expect(words[0]).toBe((0x7f | (0xc0 << 8) | (1 << 16)) >>> 0);
  });

  it('in_out layout keeps one scale per column', () => {
    const w = [2, -1, 0.5, 4]; // [in=2, out=2]
    const { scales } = quantizeInt8(w, [2, 2], 'in_out');
    expect(Array.from(scales)).toEqual([Math.fround(2 / 127), Math.fround(4 / 127)]);
  });

  it('round trip errs by at most s/2 per element; an all-zero channel stays zero', () => {
    const w = rand(48 * 20, 3);
    for (let j = 0; j < 20; j++) w[5 * 20 + j] = 0;
    const enc = encodeWeight(w, [48, 20], 'int8', 'out_in');
    const back = dequantizeWeight(enc, [48, 20], 'int8', 'out_in');
    for (let e = 0; e < w.length; e++) {
      const s = enc.scales![Math.floor(e / 20)];
      expect(Math.abs(back[e] - w[e])).toBeLessThanOrEqual((s / 2) * (1 + 1e-6));
    }
    for (let j = 0; j < 20; j++) expect(back[5 * 20 + j]).toBe(0);
  });
});

describe('nf4', () => {
  it('picks the nearest code for every value (the threshold search equals a linear scan)', () => {
    for (let i = 0; i <= 20000; i++) {
      const v = -1 + i / 10000;
      let best = 0;
      for (let c = 1; c < 16; c++) if (Math.abs(v - NF4_CODES[c]) < Math.abs(v - NF4_CODES[best])) best = c;
      expect(nearestNf4(v), `v = ${v}`).toBe(best);
    }
  });

  it('codes a hand-made block: exact codes map to themselves, the sign and the absmax are kept', () => {
    const m = 3;
    const w = [m, -m, 0, m * NF4_CODES[10], m * NF4_CODES[2], m * 0.04, m * 0.0397];
    const { words, absmax } = quantizeNf4(w);
    expect(Array.from(absmax)).toEqual([3]);
    // 0.04 is just above the midpoint 0.0397901 of codes 7 and 8; 0.0397 just below.
    expect(w.map((_, e) => nf4At(words, e))).toEqual([15, 0, 7, 10, 2, 8, 7]);
    // Element e in bits 4·(e&7) of word e>>3.
    expect(words[0] & 0xf).toBe(15);
    expect((words[0] >>> 4) & 0xf).toBe(0);
  });

  it('one absmax per block of 64 in storage order; round trip within NF4_HALF_GAP·absmax', () => {
    const n = 3 * NF4_BLOCK + 10;
    const w = rand(n, 7).map((v, e) => v * (1 + Math.floor(e / NF4_BLOCK)));
    const enc = encodeWeight(w, [n], 'nf4', 'out_in');
    expect(enc.scales).toHaveLength(4);
    expect(enc.words).toHaveLength(Math.ceil(n / 8));
    const back = dequantizeWeight(enc, [n], 'nf4', 'out_in');
    for (let e = 0; e < n; e++) {
      const m = enc.scales![Math.floor(e / NF4_BLOCK)];
      expect(Math.abs(back[e] - w[e])).toBeLessThanOrEqual(NF4_HALF_GAP * m * (1 + 1e-6));
    }
    // The bound is nearly reached somewhere: quantization really happened.
    const worst = Math.max(
      ...Array.from(back, (b, e) => Math.abs(b - w[e]) / enc.scales![Math.floor(e / 64)]),
    );
    expect(worst).toBeGreaterThan(0.05);
  });
});

describe('bf16 and f16', () => {
  it('bf16 rounds to nearest even, from float32 and from float64 alike', () => {
    expect(bf16Bits(1)).toBe(0x3f80);
    expect(bf16Bits(-2)).toBe(0xc000);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1).
    expect(bf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: to 1 + 2^-6.
    expect(bf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    // A float64 just above the tie rounds up (a float32 detour would have made it a tie, then down).
    expect(bf16Bits(1 + 2 ** -8 + 2 ** -40)).toBe(0x3f81);
    expect(bf16Bits(Number.POSITIVE_INFINITY)).toBe(0x7f80);
    expect(bf16Bits(3.5e38)).toBe(0x7f80);
    expect(bf16Value(0x3f81)).toBe(1 + 2 ** -7);
    expect(bf16Value(0x0001)).toBe(2 ** -133);
  });

  it('packs two halves per word, element e in bits 16·(e&1), and round-trips within half an ulp', () => {
    const w = [1, -2, 0.1];
    const b = encodeWeight(w, [3], 'bf16', 'out_in');
    expect(Array.from(b.words)).toEqual([(0x3f80 | (0xc000 << 16)) >>> 0, bf16Bits(0.1)]);
    const h = encodeWeight(w, [3], 'f16', 'out_in');
    expect(h.words[0]).toBe((0x3c00 | (0xc000 << 16)) >>> 0);
    const r = rand(100, 5);
    const bb = roundTripWeight(r, [100], 'bf16', 'out_in');
    const hh = roundTripWeight(r, [100], 'f16', 'out_in');
    for (let e = 0; e < 100; e++) {
      expect(Math.abs(bb[e] - r[e])).toBeLessThanOrEqual(Math.abs(r[e]) * 2 ** -8);
      expect(Math.abs(hh[e] - r[e])).toBeLessThanOrEqual(Math.max(Math.abs(r[e]) * 2 ** -11, 2 ** -25));
    }
  });
});

describe('byte costs', () => {
  it('counts packed values and scales exactly', () => {
    expect(weightBytes([64, 64], 'f32', 'out_in')).toEqual({ values: 16384, scales: 0 });
    expect(weightBytes([64, 64], 'bf16', 'out_in')).toEqual({ values: 8192, scales: 0 });
    expect(weightBytes([64, 32], 'int8', 'out_in')).toEqual({ values: 2048, scales: 256 });
    expect(weightBytes([64, 32], 'int8', 'in_out')).toEqual({ values: 2048, scales: 128 });
    expect(weightBytes([64, 64], 'nf4', 'out_in')).toEqual({ values: 2048, scales: 256 });
    expect(weightBytes([3], 'nf4', 'out_in')).toEqual({ values: 4, scales: 4 });
  });
});
