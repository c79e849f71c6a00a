// Tests for model-config.ts: real published configs (GPT-2 small, TinyLlama-1.1B, Qwen2-0.5B, as
// their config.json files state them) parse to the expected fields and to their published
// parameter counts; unsupported features are refused naming the field; checkpoints are validated.
import { describe, expect, it } from 'vitest';
import { FormatError } from './errors';
import {
  canonicalKey,
  countParameters,
  estimateWeightBytes,
  expectedTensorShapes,
  type ModelConfig,
  parseModelConfig,
  validateCheckpointShapes,
} from './model-config';

const GPT2 = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  vocab_size: 50257,
};

const TINYLLAMA = {
  architectures: ['LlamaForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5632,
  max_position_embeddings: 2048,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 22,
  num_key_value_heads: 4,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 32000,
};

const QWEN2 = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 131072,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 131072,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

function refused(cfg: unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    parseModelConfig(cfg);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  for (const p of ['config.json', ...parts]) expect((err as Error).message).toContain(p);
}

function shapesOf(cfg: ModelConfig): Map<string, number[]> {
  return expectedTensorShapes(cfg);
}

describe('parseModelConfig', () => {
  it('GPT-2 small: fields, 148 tensors, 124,439,808 parameters', () => {
    const c = parseModelConfig(JSON.stringify(GPT2));
    expect(c).toMatchObject({
      modelType: 'gpt2',
      family: 'gpt2',
      vocabSize: 50257,
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      numKvHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      maxPositions: 1024,
      norm: 'layernorm',
      normEps: 1e-5,
      activation: 'gelu_tanh',
      positional: 'learned',
      ropeTheta: null,
      tieWordEmbeddings: true,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      bosTokenId: 50256,
      eosTokenIds: [50256],
    });
    const s = shapesOf(c);
    expect(s.size).toBe(2 + 12 * 12 + 2);
    expect(s.get('transformer.h.3.attn.c_attn.weight')).toEqual([768, 2304]);
    expect(s.get('transformer.h.11.mlp.c_proj.weight')).toEqual([3072, 768]);
    expect(s.has('lm_head.weight')).toBe(false);
    expect(countParameters(c)).toBe(124_439_808);
    expect(estimateWeightBytes(c, 'F32')).toBe(4 * 124_439_808);
    expect(estimateWeightBytes(c, 'BF16')).toBe(2 * 124_439_808);
  });

  it('GPT-2 variants: gelu_pytorch_tanh, n_inner, untied head', () => {
    const c = parseModelConfig({
      ...GPT2,
      activation_function: 'gelu_pytorch_tanh',
      n_inner: 1000,
      tie_word_embeddings: false,
    });
    expect(c.intermediateSize).toBe(1000);
    expect(shapesOf(c).get('transformer.h.0.mlp.c_fc.weight')).toEqual([768, 1000]);
    expect(shapesOf(c).get('lm_head.weight')).toEqual([50257, 768]);
  });

  it('TinyLlama-1.1B: grouped-query attention, untied head, 1,100,048,384 parameters', () => {
    const c = parseModelConfig(TINYLLAMA);
    expect(c).toMatchObject({
      modelType: 'llama',
      family: 'llama',
      numHeads: 32,
      numKvHeads: 4,
      headDim: 64,
      norm: 'rmsnorm',
      normEps: 1e-5,
      activation: 'silu',
      positional: 'rope',
      ropeTheta: 10000,
      tieWordEmbeddings: false,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      bosTokenId: 1,
      eosTokenIds: [2],
      torchDtype: 'bfloat16',
    });
    const s = shapesOf(c);
    expect(s.get('model.layers.0.self_attn.k_proj.weight')).toEqual([256, 2048]);
    expect(s.get('model.layers.21.mlp.down_proj.weight')).toEqual([2048, 5632]);
    expect(s.get('lm_head.weight')).toEqual([32000, 2048]);
    expect(s.has('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    expect(countParameters(c)).toBe(1_100_048_384);
  });

  it('Qwen2-0.5B: q/k/v biases, no o_proj bias, tied head, 494,032,768 parameters', () => {
    const c = parseModelConfig(QWEN2);
    expect(c).toMatchObject({
      modelType: 'qwen2',
      family: 'llama',
      headDim: 64,
      qkvBias: true,
      oBias: false,
    });
    expect(c.ropeTheta).toBe(1e6);
    const s = shapesOf(c);
    expect(s.get('model.layers.0.self_attn.q_proj.bias')).toEqual([896]);
    expect(s.get('model.layers.0.self_attn.v_proj.bias')).toEqual([128]);
    expect(s.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(s.has('lm_head.weight')).toBe(false);
    expect(countParameters(c)).toBe(494_032_768);
  });

  it('Llama extras: head_dim, attention_bias, mlp_bias, eos list, rope_parameters', () => {
    const c = parseModelConfig({
      ...TINYLLAMA,
      head_dim: 128,
      attention_bias: true,
      mlp_bias: true,
      eos_token_id: [2, 7],
      rope_theta: undefined,
      rope_parameters: { rope_type: 'default', rope_theta: 500000 },
    });
    expect(c.headDim).toBe(128);
    expect(c.eosTokenIds).toEqual([2, 7]);
    expect(c.ropeTheta).toBe(500000);
    const s = shapesOf(c);
    expect(s.get('model.layers.0.self_attn.q_proj.weight')).toEqual([4096, 2048]);
    expect(s.get('model.layers.0.self_attn.o_proj.weight')).toEqual([2048, 4096]);
    expect(s.get('model.layers.0.self_attn.o_proj.bias')).toEqual([2048]);
    expect(s.get('model.layers.0.mlp.up_proj.bias')).toEqual([5632]);
  });

  it('refuses what the engine does not implement, naming the field and value', () => {
    refused({ ...TINYLLAMA, model_type: 'mistral' }, 'model_type "mistral"', 'gpt2, llama, qwen2');
    refused({ n_embd: 4 }, 'model_type undefined');
    refused({ ...GPT2, activation_function: 'relu' }, 'activation_function = "relu"');
    refused({ ...GPT2, scale_attn_by_inverse_layer_idx: true }, 'scale_attn_by_inverse_layer_idx');
    refused({ ...TINYLLAMA, hidden_act: 'gelu' }, 'hidden_act = "gelu"');
    refused({ ...TINYLLAMA, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'rope_scaling', 'llama3');
    refused({ ...TINYLLAMA, rope_parameters: { rope_type: 'yarn' } }, 'rope_parameters.rope_type = "yarn"');
    refused({ ...QWEN2, use_sliding_window: true }, 'use_sliding_window = true');
    refused({ ...TINYLLAMA, num_key_value_heads: 5 }, 'num_key_value_heads = 5', 'num_attention_heads = 32');
    refused({ ...TINYLLAMA, hidden_size: undefined }, 'hidden_size is missing');
    refused(
      { ...TINYLLAMA, num_hidden_layers: '22' },
      'num_hidden_layers must be a positive integer, got "22"',
    );
    refused({ ...GPT2, n_head: 7 }, 'n_embd = 768', 'n_head = 7');
    refused('{\n  "model_type": "gpt2",\n  "n_embd": 768\n  "n_head": 12\n}', 'invalid JSON at line 4');
    refused('[1]', 'must be a JSON object');
  });
});

describe('checkpoint keys against the config', () => {
  const tiny = parseModelConfig({
    ...GPT2,
    n_embd: 8,
    n_head: 2,
    n_layer: 2,
    n_positions: 16,
    vocab_size: 11,
  });

  it('normalises GPT-2 keys with or without the transformer. prefix', () => {
    expect(canonicalKey(tiny, 'h.0.attn.c_attn.weight')).toBe('transformer.h.0.attn.c_attn.weight');
    expect(canonicalKey(tiny, 'wte.weight')).toBe('transformer.wte.weight');
    expect(canonicalKey(tiny, 'transformer.ln_f.bias')).toBe('transformer.ln_f.bias');
    expect(canonicalKey(tiny, 'lm_head.weight')).toBe('lm_head.weight');
  });

  it('accepts an unprefixed GPT-2 checkpoint with its attn.bias buffers and a saved tied head', () => {
    const shapes = new Map<string, readonly number[]>();
    for (const [k, s] of expectedTensorShapes(tiny)) shapes.set(k.replace(/^transformer\./, ''), s);
    shapes.set('h.0.attn.bias', [1, 1, 16, 16]);
    shapes.set('h.1.attn.masked_bias', []);
    shapes.set('lm_head.weight', [11, 8]);
    shapes.set('something.else', [3]);
    const m = validateCheckpointShapes(tiny, shapes);
    expect(m.keyMap.get('transformer.h.1.mlp.c_fc.weight')).toBe('h.1.mlp.c_fc.weight');
    expect([...m.ignored].sort()).toEqual(['h.0.attn.bias', 'h.1.attn.masked_bias', 'lm_head.weight']);
    expect(m.unexpected).toEqual(['something.else']);
  });

  it('refuses a wrong shape or missing tensors, naming file and key', () => {
    const shapes = new Map<string, readonly number[]>(expectedTensorShapes(tiny));
    shapes.set('transformer.h.1.attn.c_attn.weight', [24, 8]);
    expect(() => validateCheckpointShapes(tiny, shapes)).toThrow(
      'model.safetensors: tensor "transformer.h.1.attn.c_attn.weight" has shape [24,8] but config.json implies [8,24]',
    );
    const missing = new Map<string, readonly number[]>(expectedTensorShapes(tiny));
    missing.delete('transformer.wpe.weight');
    missing.delete('transformer.ln_f.bias');
    expect(() => validateCheckpointShapes(tiny, missing, 'm.safetensors')).toThrow(
      /m\.safetensors: is missing 2 tensor\(s\).*"transformer\.wpe\.weight", "transformer\.ln_f\.bias"/,
    );
    const both = new Map<string, readonly number[]>(expectedTensorShapes(tiny));
    both.set('wte.weight', [11, 8]);
    expect(() => validateCheckpointShapes(tiny, both)).toThrow(/twice/);
  });

  it('reports stray biases in a Llama checkpoint whose config has none', () => {
    const llama = parseModelConfig({
      ...TINYLLAMA,
      hidden_size: 8,
      intermediate_size: 12,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      num_hidden_layers: 1,
      vocab_size: 10,
    });
    const shapes = new Map<string, readonly number[]>(expectedTensorShapes(llama));
    shapes.set('model.layers.0.self_attn.q_proj.bias', [8]);
    shapes.set('model.layers.0.self_attn.rotary_emb.inv_freq', [2]);
    const m = validateCheckpointShapes(llama, shapes);
    expect(m.unexpected).toEqual(['model.layers.0.self_attn.q_proj.bias']);
    expect(m.ignored).toEqual(['model.layers.0.self_attn.rotary_emb.inv_freq']);
  });
});
