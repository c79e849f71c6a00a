// ModelConfig back to a Hugging Face config.json object, for merged checkpoints: the fields transformers
// reads for GPT2LMHeadModel, LlamaForCausalLM and Qwen2ForCausalLM, so the exported folder loads there
// and back here (parseModelConfig(toConfigJson(c)) gives c again, which a test checks).

import { BIAS_GROUPS, BIAS_RULES, hasBias } from './architecture';
import type { ModelConfig } from './model-config';

/** config.json's bias flags (architecture.ts's rules): a flag is on when any group it governs has biases. */
function biasFlagsJson(c: ModelConfig): Record<string, boolean> {
  const flags: Record<string, boolean> = {};
  for (const g of BIAS_GROUPS) {
    const rule = BIAS_RULES[c.modelType][g];
    if (typeof rule === 'string') flags[rule] = (flags[rule] ?? false) || hasBias(c, g);
  }
  return flags;
}

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
    // Qwen2 has no bias flags (q/k/v always, nothing else); Llama's attention_bias covers q/k/v/o together.
    ...biasFlagsJson(c),
    ...common,
  };
}
