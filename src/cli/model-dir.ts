// Loads a Hugging Face model folder in Node (config.json, model.safetensors or a sharded index,
// tokenizer.json and tokenizer_config.json) into what the engine needs, validating each file first
// (the checks are src/model/sources/'s, shared with the page's sources), and the device budget the CLI's
// commands check a model against.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import type { TextTokenizer } from '../formats/tokenizer';
import type { GpuContext } from '../gpu/context';
import type { DeviceBudget } from '../model/load';
import { dirProvider } from '../model/sources/node-dir';
import { type ModelFileProvider, type OpenOptions, openModelFiles } from '../model/sources/open';

export interface ModelDir {
  dir: string;
  config: ModelConfig;
  reader: TensorReader;
  tokenizer: TextTokenizer;
}

/**
 * The folder's files, named in messages once: the readers of the files already carry their path, and the
 * shared checks pass such a name through `where` again, which joined the folder a second time
 * (`/m/m/model.safetensors`).
 */
function namedOnce(dir: string): ModelFileProvider {
  const p = dirProvider(dir);
  const prefix = join(dir, '/');
  return { ...p, where: (file) => (file.startsWith(prefix) ? file : p.where(file)) };
}

/** The folder through the shared model-source checks (src/model/sources), as the page loads models. */
export async function openModelDir(dir: string, opts: OpenOptions = {}): Promise<ModelDir> {
  if (dir.trim() === '') throw new Error('--model is empty');
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`${dir}: no such folder (a model folder in Hugging Face layout is expected)`);
  const m = await openModelFiles(namedOnce(dir), opts);
  return { dir, config: m.config, reader: m.reader, tokenizer: m.tokenizer };
}

/** What a CLI command lets a model use on `ctx`: the device's largest binding and 8 GiB of weights. */
export function nodeBudget(ctx: GpuContext): DeviceBudget {
  return { maxBufferBytes: ctx.limits.maxStorageBufferBindingSize, budgetBytes: 8 * 2 ** 30 };
}
