// Tiny configs for tests and the toy-training check: small enough for SwiftShader, shaped to hit edge
// cases (GQA, q/k/v biases, odd vocabularies, widths that are not multiples of tiles). Parsed from
// config.json-shaped objects so they go through the same validation as real checkpoints.
import { type ModelConfig, parseModelConfig } from '../formats/model-config';

export const TINY_GPT2: ModelConfig = parseModelConfig({
  model_type: 'gpt2',
  vocab_size: 37,
  n_embd: 16,
  n_layer: 2,
  n_head: 2,
  n_positions: 32,
  n_inner: 64,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
});

export const TINY_LLAMA: ModelConfig = parseModelConfig({
  model_type: 'qwen2',
  vocab_size: 41,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: false,
});
