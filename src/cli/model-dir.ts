// Loads a Hugging Face model folder in Node (config.json, model.safetensors or a sharded index,
// tokenizer.json and tokenizer_config.json) into what the engine needs, validating each file first
// (the checks are src/model/sources/'s, shared with the page's sources), and the device budget the CLI's
// commands check a model against.

import type { ModelConfig } from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import type { TextTokenizer } from '../formats/tokenizer';
import type { GpuContext } from '../gpu/context';
import type { DeviceBudget } from '../model/load';
import { dirModelSource } from '../model/sources/node-dir';
import type { OpenOptions } from '../model/sources/open';

export interface ModelDir {
  dir: string;
  config: ModelConfig;
  reader: TensorReader;
  tokenizer: TextTokenizer;
}

/** The folder through the shared model-source checks (src/model/sources), as the page loads models. */
export async function openModelDir(dir: string, opts: OpenOptions = {}): Promise<ModelDir> {
  const m = await dirModelSource(dir).open(opts);
  return { dir, config: m.config, reader: m.reader, tokenizer: m.tokenizer };
}

/** What a CLI command lets a model use on `ctx`: the device's largest binding and 8 GiB of weights. */
export function nodeBudget(ctx: GpuContext): DeviceBudget {
  return { maxBufferBytes: ctx.limits.maxStorageBufferBindingSize, budgetBytes: 8 * 2 ** 30 };
}
