// Prompt tuning (PEFT's PROMPT_TUNING): n trainable virtual-token embeddings P [n, d] prepended to every
// sequence's input embeddings (the transformer's virtualTokens site). The virtual tokens take positions
// 0..n−1 and the real ones n..n+T−1; their labels are -100, so the last virtual token predicts the first
// real one (shiftLabels does both). Init as PEFT: RANDOM (nn.Embedding's N(0, 1)), TEXT (the tokenized
// prompt_tuning_init_text repeated or cut to n, and those rows of the embedding table) or SAMPLE_VOCAB (n
// random vocabulary rows). Saved as `prompt_embeddings` without a prefix; adapter_config.json as PEFT writes
// it. Not mergeable: its inference cost is the n extra positions of every sequence.

import { modelTensors } from '../../formats/architecture';
import type { ModelConfig } from '../../formats/model-config';
import { hashString, randn, rng } from '../../util/rng';
import { OptionReader } from '../options';
import type { BaseWeights, MethodContext, OptionSpec, PeftMethod, RawOptions } from '../types';

export interface PromptOptions {
  numVirtualTokens: number;
  init: PromptInit;
  initText: string | null;
  tokenizerName: string | null;
  /**
   * TEXT init: the text's token ids as the tokenizer gives them (special tokens included, as PEFT's
   * `tokenizer(text)["input_ids"]`). Null for an adapter rebuilt from a saved config: its values are loaded,
   * not initialised (PEFT's inference_mode skips the init too).
   */
  initIds: number[] | null;
}

/** The key PEFT saves the virtual tokens under (prompt learning keys carry no module prefix). */
export const PROMPT_KEY = 'prompt_embeddings';

const INITS = ['RANDOM', 'TEXT', 'SAMPLE_VOCAB'] as const;
export type PromptInit = (typeof INITS)[number];

const PROMPT_OPTIONS = [
  {
    key: 'num_virtual_tokens',
    kind: 'int',
    default: 20,
    min: 1,
    group: 'main',
    help: 'virtual tokens prepended to every sequence, fewer than the model’s positions (PEFT requires it; its examples use 20)',
  },
  {
    key: 'prompt_tuning_init',
    kind: 'enum',
    default: 'RANDOM',
    choices: INITS,
    group: 'main',
    help: 'RANDOM: N(0,1); TEXT: embeddings of prompt_tuning_init_text; SAMPLE_VOCAB: random vocabulary rows',
  },
  {
    key: 'prompt_tuning_init_text',
    kind: 'string',
    default: null,
    group: 'main',
    help: 'the text for TEXT init',
  },
  {
    key: 'tokenizer_name_or_path',
    kind: 'string',
    default: null,
    group: 'advanced',
    help: "the tokenizer PEFT would load for TEXT init (default: the base model's)",
  },
] as const satisfies readonly OptionSpec[];

function parsePrompt(raw: RawOptions, c: ModelConfig, ctx: MethodContext | undefined): PromptOptions {
  const rd = new OptionReader('prompt', PROMPT_OPTIONS, raw);
  const numVirtualTokens = rd.get('num_virtual_tokens', { max: c.maxPositions - 1 });
  const init = rd.get('prompt_tuning_init');
  const initText = rd.get('prompt_tuning_init_text');
  let tokenizerName = rd.get('tokenizer_name_or_path');
  let initIds: number[] | null = null;
  if (init === 'TEXT') {
    // PEFT's PromptTuningConfig refuses TEXT without both, even when loading; so do we.
    if (initText === null || initText === '')
      throw new Error('prompt: prompt_tuning_init TEXT needs prompt_tuning_init_text');
    tokenizerName ??= ctx?.tokenizerName ?? null;
    if (!tokenizerName)
      throw new Error(
        'prompt: prompt_tuning_init TEXT needs tokenizer_name_or_path (PEFT writes it to adapter_config.json)',
      );
    if (!ctx?.saved) {
      if (!ctx?.tokenizer)
        throw new Error(
          "prompt: prompt_tuning_init TEXT needs the model's tokenizer to tokenize the init text",
        );
      initIds = ctx.tokenizer.encode(initText);
      if (initIds.length === 0)
        throw new Error(`prompt: prompt_tuning_init_text ${JSON.stringify(initText)} tokenizes to nothing`);
      const bad = initIds.find((id) => id < 0 || id >= c.vocabSize);
      if (bad !== undefined)
        throw new Error(
          `prompt: the init text's token ${bad} is outside the model's vocabulary of ${c.vocabSize}`,
        );
    }
  }
  return { numVirtualTokens, init, initText, tokenizerName, initIds };
}

/** PEFT's TEXT rule: the ids cut to n, or repeated ⌈n/len⌉ times and then cut to n. */
export function textInitIds(ids: readonly number[], n: number): number[] {
  const reps = Math.ceil(n / ids.length);
  const out: number[] = [];
  for (let r = 0; r < reps; r++) out.push(...ids);
  return out.slice(0, n);
}

function rowsOf(base: BaseWeights, c: ModelConfig, ids: readonly number[]): Float32Array {
  const d = c.hiddenSize;
  const table = base.data(modelTensors(c).embed);
  const out = new Float32Array(ids.length * d);
  for (const [r, id] of ids.entries()) for (let j = 0; j < d; j++) out[r * d + j] = table[id * d + j];
  return out;
}

/** The initial virtual-token embeddings [n, d]. */
export function promptInit(o: PromptOptions, c: ModelConfig, base: BaseWeights, seed: number): Float32Array {
  const n = o.numVirtualTokens;
  const s = (seed ^ hashString(PROMPT_KEY)) >>> 0;
  if (o.init === 'TEXT' && o.initIds) return rowsOf(base, c, textInitIds(o.initIds, n));
  if (o.init === 'SAMPLE_VOCAB') {
    const r = rng(s);
    return rowsOf(
      base,
      c,
      Array.from({ length: n }, () => Math.floor(r() * c.vocabSize)),
    );
  }
  return Float32Array.from(randn(n * c.hiddenSize, s, 1));
}

export function promptAdapterConfig(o: PromptOptions, c: ModelConfig): Record<string, unknown> {
  return {
    peft_type: 'PROMPT_TUNING',
    task_type: 'CAUSAL_LM',
    auto_mapping: null,
    revision: null,
    // PEFT's save_pretrained writes inference_mode true whatever the training state.
    inference_mode: true,
    num_virtual_tokens: o.numVirtualTokens,
    token_dim: c.hiddenSize,
    num_transformer_submodules: 1,
    num_attention_heads: c.numHeads,
    num_layers: c.numLayers,
    modules_to_save: null,
    prompt_tuning_init: o.init,
    prompt_tuning_init_text: o.initText,
    tokenizer_name_or_path: o.tokenizerName,
    tokenizer_kwargs: null,
  };
}

/** A saved prompt-learning config must describe this model (PEFT fills these from the model's config). */
export function checkPromptDims(
  json: Record<string, unknown>,
  want: Record<string, number>,
  what: string,
): void {
  for (const [k, v] of Object.entries(want)) {
    const got = json[k];
    if (got !== undefined && got !== null && got !== v)
      throw new Error(`adapter_config.json: ${k} = ${JSON.stringify(got)} but this model's ${what} has ${v}`);
  }
}

export const prompt: PeftMethod<PromptOptions> = {
  info: {
    name: 'prompt',
    label: 'Prompt tuning',
    family: 'additive',
    peftType: 'PROMPT_TUNING',
    mergeable: false,
    identityAtInit: false,
    // PEFT's prompt-tuning examples train at 3e-2 (soft prompts need far larger steps than weights).
    defaultLr: 3e-2,
    options: PROMPT_OPTIONS,
  },
  parse: parsePrompt,
  build(o, c, base, seed) {
    return {
      baseTrainable: () => false,
      added: [
        {
          name: PROMPT_KEY,
          shape: [o.numVirtualTokens, c.hiddenSize],
          data: promptInit(o, c, base, seed),
          trainable: true,
        },
      ],
    };
  },
  count: (o, c) => o.numVirtualTokens * c.hiddenSize,
  hooks(_o, _c, ps) {
    return { virtualTokens: () => ps.get(PROMPT_KEY) };
  },
  adapterConfig: promptAdapterConfig,
  checkAdapterConfig(json, c) {
    checkPromptDims(json, { token_dim: c.hiddenSize, num_layers: c.numLayers }, 'hidden size / layers');
  },
  testOptions: () => ({ num_virtual_tokens: 4, prompt_tuning_init: 'RANDOM' }),
};
