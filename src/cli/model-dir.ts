// Loads a Hugging Face model folder in Node (config.json, model.safetensors or a sharded index,
// tokenizer.json and tokenizer_config.json) into what the engine needs, validating each file first
// (the checks are src/model/sources/'s, shared with the page's sources), and the device budget the CLI's
// commands check a model against. `--model ORG/NAME[@REVISION]` that is not a local folder is a Hub model:
// downloaded into huggingface_hub's cache (src/model/sources/hub-node.ts; HF_ENDPOINT, HF_TOKEN,
// HF_HUB_OFFLINE, HF_HOME/HF_HUB_CACHE as huggingface_hub reads them), then loaded from its snapshot folder
// like any other folder. A local folder of that name wins, so `--model org/name` in a checkout still means it.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import type { TextTokenizer } from '../formats/tokenizer';
import type { GpuContext } from '../gpu/context';
import { formatBytes } from '../gpu/errors';
import type { DeviceBudget } from '../model/load';
import { parseHubModelId } from '../model/sources/hub';
import { downloadHubModel, hubConfigText, hubEnv } from '../model/sources/hub-node';
import { dirProvider } from '../model/sources/node-dir';
import {
  type FileProgress,
  type ModelFileProvider,
  type OpenOptions,
  openModelFiles,
} from '../model/sources/open';

export interface ModelDir {
  /** The folder the files are read from (for a Hub model: its snapshot folder in the cache). */
  dir: string;
  /** --model as given: the folder, or the Hub id (ORG/NAME[@REVISION]). */
  name: string;
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
export async function openModelDir(model: string, opts: OpenOptions = {}): Promise<ModelDir> {
  const dir = await resolveModelDir(model);
  const m = await openModelFiles(namedOnce(dir), opts);
  return { dir, name: model, config: m.config, reader: m.reader, tokenizer: m.tokenizer };
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** The folder `--model` names: a local folder, or a Hub model's snapshot folder once downloaded. */
export async function resolveModelDir(model: string): Promise<string> {
  if (model.trim() === '') throw new Error('--model is empty');
  if (isDir(model)) return model;
  const id = parseHubModelId(model);
  if (!id)
    throw new Error(
      `${model}: no such folder (a model folder in Hugging Face layout, or a Hub model as ORG/NAME[@REVISION], is expected)`,
    );
  const m = await downloadHubModel(id, { ...hubEnv(), onProgress: progressLine() });
  if (m.offline) process.stderr.write(`${model}: offline, loaded from the cache (commit ${m.commit})\n`);
  return m.dir;
}

/** config.json of `--model` without its weights (a plan): from the folder, or from the Hub into the cache. */
export async function readModelConfigText(model: string): Promise<{ text: string; file: string }> {
  if (model.trim() === '') throw new Error('--model is empty');
  const id = isDir(model) ? null : parseHubModelId(model);
  if (!id) {
    const dir = await resolveModelDir(model);
    const file = join(dir, 'config.json');
    if (!existsSync(file)) throw new Error(`${dir}: has no config.json`);
    return { text: readFileSync(file, 'utf8'), file };
  }
  return hubConfigText(id, hubEnv());
}

/** Download progress on stderr: a line when a file starts, every 25 % of a large one, and when it is done. */
function progressLine(): (p: FileProgress) => void {
  const shown = new Map<string, number>();
  return (p) => {
    if (p.cached) return;
    const quarter = p.totalBytes ? Math.floor((4 * p.loadedBytes) / p.totalBytes) : 0;
    if (!p.done && shown.has(p.file) && (shown.get(p.file)! >= quarter || (p.totalBytes ?? 0) < 1 << 20))
      return;
    shown.set(p.file, quarter);
    const of = p.totalBytes !== null ? ` of ${formatBytes(p.totalBytes)}` : '';
    process.stderr.write(
      p.done
        ? `downloaded ${p.file} (${formatBytes(p.loadedBytes)})\n`
        : `downloading ${p.file}: ${formatBytes(p.loadedBytes)}${of}\n`,
    );
  };
}

/** What a CLI command lets a model use on `ctx`: the device's largest binding and 8 GiB of weights. */
export function nodeBudget(ctx: GpuContext): DeviceBudget {
  return { maxBufferBytes: ctx.limits.maxStorageBufferBindingSize, budgetBytes: 8 * 2 ** 30 };
}
