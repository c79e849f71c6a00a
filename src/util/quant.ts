// Frozen-weight storage formats on the host: the definitions (dtype, layout, the format record), the exact
// packing of each format into u32 words as the GPU kernels read them, and the float64 twins of quantize /
// dequantize. The GPU kernels (matmul, embedding, dequant) widen these same words inside the shader; the
// CPU twin backend computes with `dequantizeWeight(encodeWeight(w))`, the float64 values of exactly what is
// stored, so a GPU run on a quantized base is checked against a twin holding the same numbers.
// tensor/weight-format.ts re-exports the definitions (the contract's home for layers above gpu/).
//
// Word layouts (little-endian, element e of the tensor in storage order):
// - f32: plain f32 words.
// - f16 / bf16: two halves per word, element e in bits 16·(e&1) of word e>>1.
// - int8: four signed bytes per word, element e in bits 8·(e&3) of word e>>2; one f32 scale per output
//   channel, s = max|w| / 127 over the channel, q = round-half-even(w / s) clamped to ±127.
// - nf4: eight 4-bit codes per word, element e in bits 4·(e&7) of word e>>3; one f32 absmax per block of
//   64 consecutive elements (no double quantization); a code indexes NF4_CODES, value = code · absmax.

import { f32ToF16Bits, halfValue } from './f16';

/** The storage dtype a frozen base is held in (`--base-dtype`, and the page's choice). */
export type BaseDtype = 'f32' | 'f16' | 'bf16' | 'int8' | 'nf4';

export const BASE_DTYPES: readonly BaseDtype[] = ['f32', 'f16', 'bf16', 'int8', 'nf4'];

export const isBaseDtype = (v: unknown): v is BaseDtype =>
  typeof v === 'string' && (BASE_DTYPES as readonly string[]).includes(v);

/** A weight matrix's layout: which axis is the output channel (int8 scales are per output channel). */
export type WeightLayout = 'in_out' | 'out_in';

/** A frozen tensor's storage beyond its values: null on a Tensor means plain f32. */
export interface WeightFormat<S> {
  dtype: BaseDtype;
  /** int8: one f32 scale per output channel; nf4: one f32 absmax per block of 64; else null. */
  scales: S | null;
  /** The layout the int8 channels follow (nf4 and 16-bit formats do not depend on it). */
  layout: WeightLayout;
  /**
   * int8: the number of output channels (scales), which with the element count fixes the storage's
   * columns when reading the weight back; set by uploadWeight, absent for the other dtypes.
   */
  channels?: number;
}

/** Storage [rows, cols] of an n-element int8 weight from its format (its channels and layout). */
export function int8RowsCols(n: number, format: WeightFormat<unknown>): [number, number] {
  const ch = format.channels;
  if (!ch) throw new Error('an int8 weight format needs its channel count');
  return format.layout === 'out_in' ? [ch, n / ch] : [n / ch, ch];
}

/** Elements per NF4 block (bitsandbytes' and QLoRA's default blocksize). */
export const NF4_BLOCK = 64;

/**
 * The 16 NF4 values as bitsandbytes defines them (float32, `get_4bit_type('nf4')` / the CUDA kernels'
 * table): quantiles of N(0,1) normalised to [-1, 1] with an exact zero, 7 negative and 8 positive.
 */
export const NF4_CODES: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
].map(Math.fround);

/** Half the widest gap between adjacent NF4 codes: the worst-case error of a code, in units of absmax. */
export const NF4_HALF_GAP = Math.max(...NF4_CODES.slice(1).map((c, i) => c - NF4_CODES[i])) / 2;

/** Elements packed per u32 word. */
export function elemsPerWord(dtype: BaseDtype): number {
  return dtype === 'f32' ? 1 : dtype === 'f16' || dtype === 'bf16' ? 2 : dtype === 'int8' ? 4 : 8;
}

/** [rows, cols] of a weight's storage (the last axis is contiguous); a 1-D weight is one row. */
export function storageRowsCols(shape: readonly number[]): [number, number] {
  const n = shape.reduce((a, b) => a * b, 1);
  const cols = shape.length ? shape[shape.length - 1] : 1;
  return [cols ? n / cols : 0, cols];
}

/** Number of scale values a format keeps: int8 one per output channel, nf4 one per block, else 0. */
export function scaleCount(shape: readonly number[], dtype: BaseDtype, layout: WeightLayout): number {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'nf4') return Math.ceil(n / NF4_BLOCK);
  if (dtype !== 'int8') return 0;
  const [rows, cols] = storageRowsCols(shape);
  return layout === 'out_in' ? rows : cols;
}

/** Exact bytes of a weight's packed values and of its scales (before any allocator alignment). */
export function weightBytes(
  shape: readonly number[],
  dtype: BaseDtype,
  layout: WeightLayout,
): { values: number; scales: number } {
  const n = shape.reduce((a, b) => a * b, 1);
  return { values: Math.ceil(n / elemsPerWord(dtype)) * 4, scales: scaleCount(shape, dtype, layout) * 4 };
}

// ---- bf16 ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function roundHalfEven(v: number): number {
  const r = Math.floor(v);
  const d = v - r;
  return d > 0.5 || (d === 0.5 && r % 2 === 1) ? r + 1 : r;
}

/** bf16 bits of one value, rounded to nearest even once from the exact value (float64 included). */
export function bf16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  f32[0] = x;
  if (f32[0] === x) {
    // A float32: round its bits (a carry into the exponent, up to infinity, gives the right bits).
    const u = u32[0];
    return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
  }
  // A float64 that is not a float32: rounding through float32 first could round twice.
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -126) return sign | roundHalfEven(a * 2 ** 133); // subnormal (or the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const q = roundHalfEven(a * 2 ** (7 - e)); // mantissa with its implicit bit, in [128, 256]
  const bits = ((e + 127) << 7) + q - 128;
  return sign | Math.min(bits, 0x7f80);
}

/** The exact value of bf16 bits. */
export function bf16Value(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

// ---- packing ----

/** Two 16-bit halves per word, element e in bits 16·(e&1) of word e>>1. */
function pack16(bits: ArrayLike<number>): Uint32Array {
  const words = new Uint32Array(Math.ceil(bits.length / 2));
  for (let e = 0; e < bits.length; e++) words[e >> 1] |= (bits[e] & 0xffff) << (16 * (e & 1));
  return words;
}

const half16 = (words: Uint32Array, e: number) => (words[e >> 1] >>> (16 * (e & 1))) & 0xffff;

/** f16 words of `data` (round to nearest even, f16.ts). */
export function packF16(data: ArrayLike<number>): Uint32Array {
  return pack16(f32ToF16Bits(data));
}

/** bf16 words of `data` (round to nearest even). */
export function packBf16(data: ArrayLike<number>): Uint32Array {
  const bits = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) bits[i] = bf16Bits(data[i]);
  return pack16(bits);
}

/** The output channel of storage element e (int8 scales). */
function channelOf(e: number, cols: number, layout: WeightLayout): number {
  return layout === 'out_in' ? Math.floor(e / cols) : e % cols;
}

/**
 * Symmetric int8 per output channel: s_c = max|w| / 127 over channel c (kept f32), q = round(w / s_c)
 * (half to even) clamped to ±127; an all-zero channel has s = 0 and q = 0.
 */
export function quantizeInt8(
  data: ArrayLike<number>,
  shape: readonly number[],
  layout: WeightLayout,
): { words: Uint32Array; scales: Float32Array } {
  const n = data.length;
  const [rows, cols] = storageRowsCols(shape);
  const byRow = layout === 'out_in';
  const scales = new Float32Array(scaleCount(shape, 'int8', layout));
  const maxAbs = new Float64Array(scales.length);
  // Row by row (the storage order), so the channel of each element is a loop variable, not a division.
  for (let r = 0, e = 0; r < rows; r++)
    for (let c = 0; c < cols; c++, e++) {
      const k = byRow ? r : c;
      const a = Math.abs(data[e]);
      if (a > maxAbs[k]) maxAbs[k] = a;
    }
  for (let k = 0; k < scales.length; k++) scales[k] = maxAbs[k] / 127;
  const words = new Uint32Array(Math.ceil(n / 4));
  for (let r = 0, e = 0; r < rows; r++)
    for (let c = 0; c < cols; c++, e++) {
      const s = scales[byRow ? r : c];
      const q = s === 0 ? 0 : Math.max(-127, Math.min(127, roundHalfEven(data[e] / s)));
      words[e >> 2] |= (q & 0xff) << (8 * (e & 3));
    }
  return { words, scales };
}

/** Signed byte e of the packed words. */
export const int8At = (words: Uint32Array, e: number): number =>
  ((words[e >> 2] >>> (8 * (e & 3))) << 24) >> 24;

/** Midpoints between adjacent NF4 codes: the decision thresholds (bitsandbytes' dQuantizeNF4 tree). */
const NF4_MIDPOINTS: readonly number[] = NF4_CODES.slice(1).map((c, i) => (c + NF4_CODES[i]) / 2);

/**
 * The NF4 code nearest to v in [-1, 1]: the number of thresholds strictly below v (a tie goes to the lower
 * code), by binary search, since a large base quantizes billions of elements on the host.
 */
export function nearestNf4(v: number): number {
  let lo = 0;
  let hi = NF4_MIDPOINTS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (NF4_MIDPOINTS[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * NF4 over blocks of NF4_BLOCK consecutive elements: absmax per block (kept f32), each element the code
 * nearest to w / absmax; an all-zero block has absmax 0 and every code the exact zero (7).
 */
export function quantizeNf4(data: ArrayLike<number>): { words: Uint32Array; absmax: Float32Array } {
  const n = data.length;
  const absmax = new Float32Array(Math.ceil(n / NF4_BLOCK));
  const words = new Uint32Array(Math.ceil(n / 8));
  for (let b = 0; b < absmax.length; b++) {
    const start = b * NF4_BLOCK;
    const end = Math.min(n, start + NF4_BLOCK);
    let m = 0;
    for (let e = start; e < end; e++) m = Math.max(m, Math.abs(data[e]));
    absmax[b] = m;
    const kept = absmax[b]; // the f32 absmax the kernels scale by
    for (let e = start; e < end; e++) {
      const code = kept === 0 ? 7 : nearestNf4(data[e] / kept);
      words[e >> 3] |= code << (4 * (e & 7));
    }
  }
  return { words, absmax };
}

/** NF4 code of element e. */
export const nf4At = (words: Uint32Array, e: number): number => (words[e >> 3] >>> (4 * (e & 7))) & 15;

/** A weight as stored: its packed words and its scales (int8 per channel, nf4 absmax per block). */
export interface EncodedWeight {
  /** f32: the values' own bits; otherwise the packed words. */
  words: Uint32Array;
  scales: Float32Array | null;
}

/** Packs a weight in `dtype` exactly as the GPU stores it. */
export function encodeWeight(
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: BaseDtype,
  layout: WeightLayout,
): EncodedWeight {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`encodeWeight: ${data.length} values for shape [${shape}]`);
  switch (dtype) {
    case 'f32':
      return { words: new Uint32Array(Float32Array.from(data).buffer), scales: null };
    case 'f16':
      return { words: packF16(data), scales: null };
    case 'bf16':
      return { words: packBf16(data), scales: null };
    case 'int8': {
      const q = quantizeInt8(data, shape, layout);
      return { words: q.words, scales: q.scales };
    }
    case 'nf4': {
      const q = quantizeNf4(data);
      return { words: q.words, scales: q.absmax };
    }
  }
}

/**
 * The float64 values of a stored weight (the twin of every kernel's in-shader widening): each element is
 * exactly what the format holds, with int8 q·s and nf4 code·absmax computed in float64.
 */
export function dequantizeWeight(
  enc: EncodedWeight,
  shape: readonly number[],
  dtype: BaseDtype,
  layout: WeightLayout,
): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const { words, scales } = enc;
  switch (dtype) {
    case 'f32': {
      const v = new Float32Array(words.buffer, words.byteOffset, n);
      for (let e = 0; e < n; e++) out[e] = v[e];
      break;
    }
    case 'f16':
      for (let e = 0; e < n; e++) out[e] = halfValue(half16(words, e));
      break;
    case 'bf16':
      for (let e = 0; e < n; e++) out[e] = bf16Value(half16(words, e));
      break;
    case 'int8': {
      const [, cols] = storageRowsCols(shape);
      for (let e = 0; e < n; e++) out[e] = int8At(words, e) * (scales?.[channelOf(e, cols, layout)] ?? 0);
      break;
    }
    case 'nf4':
      for (let e = 0; e < n; e++)
        out[e] = NF4_CODES[nf4At(words, e)] * (scales?.[Math.floor(e / NF4_BLOCK)] ?? 0);
      break;
  }
  return out;
}

/** What a weight becomes when stored in `dtype`: dequantize(encode(w)) in float64. */
export function roundTripWeight(
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: BaseDtype,
  layout: WeightLayout,
): Float64Array {
  return dequantizeWeight(encodeWeight(data, shape, dtype, layout), shape, dtype, layout);
}
