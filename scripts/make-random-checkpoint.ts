// Writes a random-weight checkpoint folder with a published model's exact shapes, so memory and parity
// can be measured at real size on a machine with no internet: config.json as the model publishes it
// (test/fixtures/configs; optionally cut to its first N layers), model.safetensors in the model's own dtype, written by the
// engine's safetensors writer, and a small byte-level tokenizer (the tiny-bpe fixture; its 267 ids fit
// any of these vocabularies; the real tokenizer is not needed to train on token ids). Weights are
// normal(0, 0.02) as Hugging Face initialises them, norm gains 1, biases 0, each tensor seeded from its
// name (model/init.ts), so a `--layers N` slice holds exactly the first N layers of the full model.
//
//   node --import tsx scripts/make-random-checkpoint.ts --preset smollm2-135m [--layers N]
//        [--dtype BF16|F16|F32] [--seed S] [--out DIR]
//
// Default output: bench/out/models/<preset>[-L<N>]-<dtype> (bench/out is gitignored: never commit one).
// Presets (PRESETS below): smollm2-135m, smollm2-360m, qwen2.5-0.5b, qwen2.5-1.5b (BF16), gpt2-124m (F32).

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ModelConfig, parseModelConfig } from '../src/formats/model-config';
import { type TensorToWrite, type WritableDtype, writeSafetensors } from '../src/formats/safetensors';
import { randomModelParams } from '../src/model/init';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKENIZER_DIR = join(ROOT, 'test', 'fixtures', 'formats', 'tiny-bpe');

const CONFIGS_DIR = join(ROOT, 'test', 'fixtures', 'configs');

/**
 * Presets: the published config.json of each checked model (test/fixtures/configs, as its Hub repository
 * serves it, shared with `plan`'s tests) and the dtype its weights are published in.
 */
export const PRESETS = {
  'smollm2-135m': { folder: 'SmolLM2-135M', dtype: 'BF16' },
  'smollm2-360m': { folder: 'SmolLM2-360M', dtype: 'BF16' },
  'gpt2-124m': { folder: 'gpt2', dtype: 'F32' },
  'qwen2.5-0.5b': { folder: 'Qwen2.5-0.5B', dtype: 'BF16' },
  'qwen2.5-1.5b': { folder: 'Qwen2.5-1.5B', dtype: 'BF16' },
} as const satisfies Record<string, { folder: string; dtype: WritableDtype }>;

/** The preset's published config.json as an object. */
export function publishedConfigJson(name: PresetName): Record<string, unknown> {
  return JSON.parse(readFileSync(join(CONFIGS_DIR, PRESETS[name].folder, 'config.json'), 'utf8'));
}

export type PresetName = keyof typeof PRESETS;

export function isPresetName(s: string): s is PresetName {
  return Object.hasOwn(PRESETS, s);
}

export interface RandomCheckpointOptions {
  /** Keep only the first N decoder layers (default: all). */
  layers?: number;
  /** Stored dtype (default: the preset's, as the model is published). */
  dtype?: 'F32' | 'F16' | 'BF16';
  seed?: number;
}

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/** The preset's config.json object, with the layer count and torch_dtype adjusted to the options. */
export function presetConfigJson(name: PresetName, o: RandomCheckpointOptions = {}): Record<string, unknown> {
  const json = publishedConfigJson(name);
  const layerKey = 'n_layer' in json ? 'n_layer' : 'num_hidden_layers';
  const all = json[layerKey] as number;
  if (o.layers !== undefined) {
    if (!Number.isInteger(o.layers) || o.layers < 1 || o.layers > all)
      throw new RangeError(`--layers ${o.layers}: must be a whole number from 1 to ${all}`);
    json[layerKey] = o.layers;
    if ('max_window_layers' in json) json.max_window_layers = o.layers;
  }
  if (o.dtype && 'torch_dtype' in json) json.torch_dtype = TORCH_DTYPE[o.dtype];
  return json;
}

/**
 * Published GPT-2 (openai-community/gpt2) saves GPT2Model's keys, without the `transformer.` prefix;
 * the loader accepts both, so the folder is written as the model is published.
 */
function publishedKey(c: ModelConfig, canon: string): string {
  return c.family === 'gpt2' ? canon.replace(/^transformer\./, '') : canon;
}

/** The checkpoint's files in memory: config.json text and model.safetensors bytes. */
export function randomCheckpoint(
  name: PresetName,
  o: RandomCheckpointOptions = {},
): { config: ModelConfig; configJson: string; safetensors: Uint8Array; params: number } {
  const json = presetConfigJson(name, o);
  const config = parseModelConfig(json);
  const dtype = o.dtype ?? PRESETS[name].dtype;
  const tensors = new Map<string, TensorToWrite>();
  let params = 0;
  for (const s of randomModelParams(config, o.seed ?? 0)) {
    // randomModelParams always fills its values (a null `data` is the meter's, never init's).
    const data = s.data!;
    tensors.set(publishedKey(config, s.name), { dtype, shape: s.shape, data });
    params += data.length;
  }
  const safetensors = writeSafetensors(tensors, { format: 'pt' });
  return { config, configJson: `${JSON.stringify(json, null, 2)}\n`, safetensors, params };
}

/** Writes the folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json). */
export function writeRandomCheckpoint(dir: string, name: PresetName, o: RandomCheckpointOptions = {}) {
  const ck = randomCheckpoint(name, o);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), ck.configJson);
  writeFileSync(join(dir, 'model.safetensors'), ck.safetensors);
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(join(TOKENIZER_DIR, f), join(dir, f));
  return { dir, config: ck.config, params: ck.params, bytes: ck.safetensors.length };
}

export function defaultOutDir(name: PresetName, o: RandomCheckpointOptions = {}): string {
  const dtype = o.dtype ?? PRESETS[name].dtype;
  const slice = o.layers !== undefined ? `-L${o.layers}` : '';
  return join(ROOT, 'bench', 'out', 'models', `${name}${slice}-${dtype.toLowerCase()}`);
}

const USAGE = `node --import tsx scripts/make-random-checkpoint.ts --preset ${Object.keys(PRESETS).join('|')}
  [--layers N] [--dtype BF16|F16|F32] [--seed S] [--out DIR]`;

function main(argv: string[]): void {
  let preset: string | undefined;
  const o: RandomCheckpointOptions = {};
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    if (flag === '--preset') preset = v;
    else if (flag === '--layers') o.layers = Number(v);
    else if (flag === '--seed') o.seed = Number(v);
    else if (flag === '--out') out = v;
    else if (flag === '--dtype') {
      const d = v.toUpperCase();
      if (d !== 'F32' && d !== 'F16' && d !== 'BF16') throw new Error(`--dtype ${v}: BF16, F16 or F32`);
      o.dtype = d;
    } else throw new Error(`unknown flag ${flag}\n${USAGE}`);
  }
  if (!preset || !isPresetName(preset)) throw new Error(`--preset is required\n${USAGE}`);
  const t0 = performance.now();
  const r = writeRandomCheckpoint(out ?? defaultOutDir(preset, o), preset, o);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  // One JSON line, for scripts that chain on it.
  console.log(
    JSON.stringify({ dir: r.dir, params: r.params, safetensors_bytes: r.bytes, seconds: Number(secs) }),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
