// How a frozen weight is stored on the device: the contract between the base holder (which chooses a dtype
// for the frozen model), the backends (which upload and read weights in that dtype) and the ops that read
// frozen weights (linear, embedding, the fused LM head), which pass the format on to their kernels. Math is
// always f32: a 16-bit or quantized weight is widened inside the kernel that reads it, never copied out.
//
// - f32: plain f32 values.
// - f16 / bf16: 16-bit halves packed two per u32 word, little-endian (element e is half e&1 of word e>>1).
// - int8: symmetric per output channel: q = round(w / s), s = max|w| / 127 over the channel; 4 per u32.
// - nf4: QLoRA's 4-bit NormalFloat over blocks of 64 consecutive elements in storage order, each block scaled
//   by its absmax (kept f32, no double quantization); 8 codes per u32, element e in bits 4·(e&7).
//
// The definitions live in util/quant.ts beside the packing and the float64 twins, because the GPU kernels
// (below tensor/ in the layer order) read them too; this file is where layers above tensor/ import them.

export {
  BASE_DTYPES,
  type BaseDtype,
  isBaseDtype,
  NF4_BLOCK,
  NF4_CODES,
  scaleCount,
  type WeightFormat,
  type WeightLayout,
  weightBytes,
} from '../util/quant';

import type { WeightFormat } from '../util/quant';

/** A readable name for a weight's dtype in messages ('f32' for a plain tensor). */
export const dtypeOf = (format: WeightFormat<unknown> | null): string => format?.dtype ?? 'f32';
