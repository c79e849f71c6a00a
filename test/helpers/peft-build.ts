// Counts what a method's build() allocates without a ParamSet (for counts on full-size shapes, where
// allocating the base model in a test would be too large): the sum of the added tensors' sizes plus the
// base tensors it marks trainable.
import { expectedTensorShapes, type ModelConfig, parseModelConfig } from '../../src/formats/model-config';
import type { PeftMethod } from '../../src/peft/types';

export function matrixFreeBuild<O>(m: PeftMethod<O>, o: O, c: ModelConfig): number {
  const shapes = expectedTensorShapes(c);
  const base = {
    names: () => [...shapes.keys()],
    shape: (n: string) => shapes.get(n) ?? [],
    data: (n: string) => new Float32Array((shapes.get(n) ?? []).reduce((a, b) => a * b, 1)),
  };
  const b = m.build(o, c, base, 0);
  let n = 0;
  for (const s of b.added) if (s.trainable) n += s.shape.reduce((a, x) => a * x, 1);
  for (const [name, shape] of shapes) if (b.baseTrainable(name)) n += shape.reduce((a, x) => a * x, 1);
  return n;
}

/** GPT-2 small's shape (config only: counts are computed, nothing this size is allocated). */
export const GPT2_SMALL = parseModelConfig({
  model_type: 'gpt2',
  vocab_size: 50257,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  n_positions: 1024,
});
