// A frozen base weight as plain f32 values, for the few method paths that read a base weight's values
// directly instead of through op.linear (sparse fine-tuning's W + ΔW): a 16-bit or quantized base
// (weight-format.ts) is dequantized into a tape tensor that lives for the step; an f32 weight is itself.
import type { Tape, Tensor } from '../../tensor/tape';

export function plainWeight<S, I>(tp: Tape<S, I>, W: Tensor<S>, name: string): Tensor<S> {
  if (!W.format) return W;
  const t = tp.tensor(W.shape, false, name);
  tp.be.dequant({ out: t.store, values: W.store, format: W.format, shape: W.shape });
  return t;
}

/**
 * The store a merge writes ΔW into: only an f32 weight can take it. A formatted base reaches a merge as an
 * f32 copy (the merged export's copies, or the set's private copy); a packed one here would be corrupted
 * on the GPU, so it is refused by name.
 */
export function mergeTarget<S>(W: Tensor<S>): S {
  if (W.format)
    throw new Error(
      `${W.name} is held as ${W.format.dtype}: a delta cannot be merged into its packed values; ` +
        'export the merged model (the dequantized base + ΔW, written 16-bit) or train on an f32 base',
    );
  return W.store;
}
