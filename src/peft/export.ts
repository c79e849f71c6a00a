// Merged checkpoints: a mergeable method folded into the base weights and written as a plain Hugging Face
// model folder (config.json + model.safetensors) that loads here, in transformers, and in the ONNX path.
// Biases a method added to a bias-less model (BitFit on Llama) turn the config's bias flags on, with zero
// biases for the linears it did not target, since HF's flags cover every projection at once.

import { expectedTensorShapes, type ModelConfig } from '../formats/model-config';
import { toConfigJson } from '../formats/model-config-json';
import { type TensorToWrite, writeSafetensors } from '../formats/safetensors';
import type { Adapter } from './adapter';

export interface MergedModel {
  config: ModelConfig;
  configJson: string;
  weights: Uint8Array;
}

/** The config the merged weights need: bias flags turned on where the adapter added biases. */
export function mergedConfig(config: ModelConfig, tensorNames: ReadonlySet<string>): ModelConfig {
  if (config.family !== 'llama') return config;
  const has = (re: RegExp) => [...tensorNames].some((n) => re.test(n));
  const attn = has(/\.self_attn\.[qkvo]_proj\.bias$/);
  const mlp = has(/\.mlp\.(gate|up|down)_proj\.bias$/);
  if (config.modelType === 'qwen2') {
    if (has(/\.self_attn\.o_proj\.bias$/) || mlp) {
      throw new Error(
        'a merged Qwen2 cannot carry o_proj or MLP biases (Qwen2 has no flag for them); export the adapter instead',
      );
    }
    return config;
  }
  return {
    ...config,
    qkvBias: config.qkvBias || attn,
    oBias: config.oBias || attn,
    mlpBias: config.mlpBias || mlp,
  };
}

export async function exportMergedModel<S, I>(adapter: Adapter<S, I, unknown>): Promise<MergedModel> {
  const { method, ps } = adapter;
  if (!method.info.mergeable) {
    throw new Error(
      `${method.info.label} cannot be merged into the weights: export the adapter files instead`,
    );
  }
  const wasMerged = adapter.state.merged;
  if (!adapter.state.enabled) throw new Error('enable the adapter before exporting the merged model');
  if (!wasMerged) adapter.merge();
  try {
    const config = mergedConfig(adapter.config, new Set(ps.tensors.keys()));
    const tensors = new Map<string, TensorToWrite>();
    for (const [name, shape] of expectedTensorShapes(config)) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = ps.tensors.has(name) ? Float32Array.from(await ps.read(name)) : new Float32Array(n);
      if (data.length !== n) throw new Error(`merged tensor ${name}: ${data.length} values for [${shape}]`);
      tensors.set(name, { dtype: 'F32', shape, data });
    }
    return {
      config,
      configJson: `${JSON.stringify(toConfigJson(config), null, 2)}\n`,
      weights: writeSafetensors(tensors),
    };
  } finally {
    if (!wasMerged) adapter.unmerge();
  }
}
