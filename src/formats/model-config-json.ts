// ModelConfig back to a Hugging Face config.json object, for merged checkpoints: the fields transformers
// reads for GPT2LMHeadModel, LlamaForCausalLM and Qwen2ForCausalLM, so the exported folder loads there
// and back here (parseModelConfig(toConfigJson(c)) gives c again, which a test checks).

import type { ModelConfig } from './model-config';

export function toConfigJson(c: ModelConfig): Record<string, unknown> {
  const eos =
    c.eosTokenIds.length === 0 ? null : c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : [...c.eosTokenIds];
  const common = {
    vocab_size: c.vocabSize,
    bos_token_id: c.bosTokenId,
    eos_token_id: eos,
    pad_token_id: c.padTokenId,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: 'float32',
  };
  if (c.family === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      n_embd: c.hiddenSize,
      n_layer: c.numLayers,
      n_head: c.numHeads,
      n_inner: c.intermediateSize,
      n_positions: c.maxPositions,
      n_ctx: c.maxPositions,
      layer_norm_epsilon: c.normEps,
      activation_function: 'gelu_new',
      ...common,
    };
  }
  const qwen = c.modelType === 'qwen2';
  return {
    architectures: [qwen ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: c.modelType,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    max_position_embeddings: c.maxPositions,
    // Qwen2 always has q/k/v biases; Llama's attention_bias covers q/k/v/o together.
    ...(qwen ? {} : { attention_bias: c.qkvBias || c.oBias, mlp_bias: c.mlpBias }),
    ...common,
  };
}
