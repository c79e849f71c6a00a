// Half-precision weight storage: the upload that packs two binary16 halves per u32 word — the layout
// matmul's and the embedding's 'f16' weight format read with WGSL's unpack2x16float (core WGSL, so no
// shader-f16 feature is needed). The conversions themselves are src/util/f16.ts's (re-exported here); the
// other frozen formats (bf16, int8, nf4) are packed by util/quant.ts and uploaded by kernels/dequant.ts.

import { f32ToF16Bits } from '../util/f16';
import type { GpuBuf, MemoryCategory } from './arena';
import type { GpuContext } from './context';

export { f16BitsToF32, f32ToF16Bits } from '../util/f16';

/**
 * Converts `data` to binary16 and uploads it packed two per u32 word, little-endian: element e is the
 * low (e even) or high (e odd) half of word e>>1, which is what unpack2x16float returns as .x and .y.
 * An odd count is padded with a zero half. The buffer holds ceil(n/2)·4 bytes (rounded up to 16).
 */
export function uploadF16(
  ctx: GpuContext,
  data: ArrayLike<number>,
  category: MemoryCategory,
  label: string,
): GpuBuf {
  return ctx.upload(f32ToF16Bits(data), category, label);
}
