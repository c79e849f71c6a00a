// Loads a Hugging Face model folder in Node (config.json, model.safetensors or a sharded index,
// tokenizer.json and tokenizer_config.json) into what the engine needs, validating each file first.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TextTokenizer as DataTokenizer } from '../data/tokenize';
import { type ModelConfig, parseModelConfig } from '../formats/model-config';
import { fileSource } from '../formats/node-source';
import { SafetensorsFile, type TensorReader } from '../formats/safetensors';
import { parseShardIndex, SHARD_INDEX_FILE, ShardedSafetensors } from '../formats/sharded';
import { loadTokenizer, type TextTokenizer } from '../formats/tokenizer';

export interface ModelDir {
  dir: string;
  config: ModelConfig;
  reader: TensorReader;
  tokenizer: TextTokenizer;
}

export async function openModelDir(dir: string): Promise<ModelDir> {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath))
    throw new Error(`${dir}: no config.json (a model folder in Hugging Face layout is expected)`);
  const config = parseModelConfig(readFileSync(cfgPath, 'utf8'), cfgPath);
  let reader: TensorReader;
  const indexPath = join(dir, SHARD_INDEX_FILE);
  if (existsSync(indexPath)) {
    const index = parseShardIndex(readFileSync(indexPath, 'utf8'), indexPath);
    reader = await ShardedSafetensors.open(index, (shard) => fileSource(join(dir, shard), shard));
  } else {
    const st = join(dir, 'model.safetensors');
    if (!existsSync(st)) throw new Error(`${dir}: neither model.safetensors nor ${SHARD_INDEX_FILE}`);
    reader = await SafetensorsFile.open(await fileSource(st));
  }
  const tokPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokPath)) throw new Error(`${dir}: no tokenizer.json`);
  const tcPath = join(dir, 'tokenizer_config.json');
  const tokenizer = loadTokenizer(
    {
      tokenizerJson: readFileSync(tokPath, 'utf8'),
      tokenizerConfig: existsSync(tcPath) ? readFileSync(tcPath, 'utf8') : undefined,
      tokenizerFile: tokPath,
      configFile: tcPath,
    },
    {
      bosTokenId: config.bosTokenId ?? undefined,
      eosTokenIds: config.eosTokenIds,
      padTokenId: config.padTokenId ?? undefined,
    },
  );
  return { dir, config, reader, tokenizer };
}

/**
 * The data layer's tokenizer view: no special tokens from `encode` (the data layer places BOS/EOS itself),
 * and BOS only for families that expect it at the start (Llama), as TRL does.
 */
export function dataTokenizer(tok: TextTokenizer, config: ModelConfig): DataTokenizer {
  return {
    encode: (text) => tok.encode(text, { addSpecialTokens: false }),
    decode: (ids) => tok.decode(ids),
    eosId: tok.eosId,
    bosId: config.family === 'llama' && config.modelType === 'llama' ? tok.bosId : null,
    applyChatTemplate: tok.hasChatTemplate
      ? (messages, opts) => tok.applyChatTemplate(messages, { addGenerationPrompt: opts.addGenerationPrompt })
      : undefined,
  };
}
