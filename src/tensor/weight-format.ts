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
}

/** Elements per NF4 block (bitsandbytes' and QLoRA's default blocksize). */
export const NF4_BLOCK = 64;
