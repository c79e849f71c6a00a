// The two models the bundle trains and decodes: the built-in one (its folder shipped in the bundle) and a
// GPT-2 124M-shaped model with random weights made at run time (normal(0, 0.02) as Hugging Face
// initialises it, model/init.ts), so the bundle carries no 500 MB checkpoint. GPT-2's config.json is
// the published one (test/fixtures/configs/gpt2, bundled as JSON); --quick cuts it to a toy size.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openModelDir } from '../../src/cli/model-dir';
import { parseModelConfig } from '../../src/formats/model-config';
import {
  bytesSource,
  SafetensorsFile,
  type TensorToWrite,
  writeSafetensors,
} from '../../src/formats/safetensors';
import { randomModelParams } from '../../src/model/init';
import gpt2Published from '../../test/fixtures/configs/gpt2/config.json';
import type { BenchModel } from './measure';

/** The built-in model's folder (config.json, model.safetensors, tokenizer files) as a bench model. */
export async function builtinModel(dir: string): Promise<BenchModel> {
  const md = await openModelDir(dir);
  const hfConfig = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  return { name: 'builtin', config: md.config, reader: md.reader, hfConfig, dir };
}

/** GPT-2 small's config.json, or (quick) the same architecture at a size SwiftShader trains in seconds. */
export function gpt2ConfigJson(quick: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = structuredClone(gpt2Published);
  if (quick)
    Object.assign(json, { n_layer: 1, n_embd: 64, n_head: 2, vocab_size: 503, n_positions: 64, n_ctx: 64 });
  return json;
}

/** Random weights in the published GPT-2 layout, held in memory as one safetensors file (f32). */
export async function randomGpt2(quick: boolean): Promise<BenchModel & { params: number }> {
  const hfConfig = gpt2ConfigJson(quick);
  const config = parseModelConfig(hfConfig);
  const tensors = new Map<string, TensorToWrite>();
  let params = 0;
  for (const s of randomModelParams(config, 0)) {
    tensors.set(s.name, { dtype: 'F32', shape: s.shape, data: s.data });
    params += s.data.length;
  }
  const bytes = writeSafetensors(tensors);
  tensors.clear();
  const reader = await SafetensorsFile.open(bytesSource(bytes, 'gpt2-random.safetensors'));
  return { name: quick ? 'gpt2-quick' : 'gpt2-124m', config, reader, hfConfig, dir: null, params };
}
