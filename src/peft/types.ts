// What a fine-tuning method is, to the rest of the engine: its options (with PEFT's or the adapters
// library's defaults), which base tensors it trains, the tensors it adds (named by their PEFT keys), a
// closed-form trainable count, the model hooks it attaches, and — where it is mergeable — how its delta
// folds into the base weights. One object per method; the registry lists them.

import type { ModelConfig } from '../formats/model-config';
import type { ModelHooks } from '../model/transformer';
import type { ParamSet, ParamSpec } from '../tensor/params';

export type MethodName =
  | 'full'
  | 'lora'
  | 'dora'
  | 'lokr'
  | 'ia3'
  | 'prompt'
  | 'prefix'
  | 'houlsby'
  | 'pfeiffer'
  | 'compacter'
  | 'bitfit'
  | 'top_layers'
  | 'sparse';

export type OptionValue = string | number | boolean | string[] | null;
export type RawOptions = Record<string, OptionValue>;

export interface OptionSpec {
  key: string;
  kind: 'int' | 'float' | 'bool' | 'string' | 'list' | 'enum';
  /** The default as PEFT / the adapters library sets it (null: depends on the model, see `help`). */
  default: OptionValue;
  choices?: readonly string[];
  help: string;
}

export interface MethodInfo {
  name: MethodName;
  label: string;
  /** The seed's taxonomy. */
  family: 'baseline' | 'additive' | 'selective' | 'reparametrised';
  /** peft_type in adapter_config.json; null where PEFT has no such method (we still write the file). */
  peftType: string | null;
  mergeable: boolean;
  /**
   * Its hooks keep running when merged: what they apply is part of the merged model rather than a delta
   * folded into weights (BitFit's zero-initialised biases on a bias-less model). Default false.
   */
  hooksWhenMerged?: boolean;
  /** A fresh instance leaves the model's outputs unchanged. */
  identityAtInit: boolean;
  /** A sensible learning rate (PEFT's examples use ~1e-4..3e-4 for LoRA, 1e-2..3e-2 for soft prompts). */
  defaultLr: number;
  options: readonly OptionSpec[];
}

/** Read access to the base checkpoint before upload (DoRA's norms, sparse masks, prompt init from text). */
export interface BaseWeights {
  names(): string[];
  shape(name: string): readonly number[];
  data(name: string): ArrayLike<number>;
}

/**
 * What a method may need from outside the checkpoint when it is planned: the model's tokenizer (prompt
 * tuning's TEXT init tokenizes prompt_tuning_init_text, as PEFT does with AutoTokenizer) and its name (PEFT
 * writes tokenizer_name_or_path). Optional: a method that needs it says so when it is missing.
 */
export interface MethodContext {
  tokenizer?: { encode(text: string): number[] };
  /** The tokenizer's (or base model's) name or path, for tokenizer_name_or_path. */
  tokenizerName?: string;
}

export interface MethodBuild {
  /** Base tensors (canonical model keys) that train. */
  baseTrainable: (name: string) => boolean;
  /** Tensors the method adds, trainable unless `trainable: false`, named by their PEFT keys. */
  added: ParamSpec[];
  /** Fixed integer tensors (sparse indices), saved as I32 beside the trainable ones. */
  ints?: Array<{ name: string; data: Int32Array }>;
}

export interface HookState {
  /** Off: the model runs as the base (PEFT's disable_adapter). */
  enabled: boolean;
  /** The delta is in the base weights: hooks must not add it again. */
  merged: boolean;
}

export interface PeftMethod<O> {
  readonly info: MethodInfo;
  /** Options from adapter_config.json / --set / the UI, with defaults; throws naming the option. */
  parse(raw: RawOptions, config: ModelConfig, ctx?: MethodContext): O;
  build(o: O, config: ModelConfig, base: BaseWeights, seed: number): MethodBuild;
  /** Closed-form trainable parameter count; must equal what `build` allocates. */
  count(o: O, config: ModelConfig): number;
  hooks<S, I>(
    o: O,
    config: ModelConfig,
    ps: ParamSet<S, I>,
    state: HookState,
    ints: ReadonlyMap<string, { store: I; cpu: Int32Array }>,
  ): ModelHooks<S, I>;
  /** Adds sign·ΔW into the base weights on the device (mergeable methods). */
  merge?<S, I>(
    o: O,
    config: ModelConfig,
    ps: ParamSet<S, I>,
    sign: 1 | -1,
    ints: ReadonlyMap<string, { store: I; cpu: Int32Array }>,
  ): void;
  /** adapter_config.json's content (without base_model_name_or_path, added by the saver). */
  adapterConfig(o: O, config: ModelConfig): Record<string, unknown>;
  /** Options back from a saved adapter_config.json (inverse of adapterConfig). */
  fromAdapterConfig(json: Record<string, unknown>, config: ModelConfig): O;
  /**
   * Tensors a save writes in place of the trainable ones, where those differ: prefix tuning with its
   * reparametrisation MLP saves the table the MLP computes, as PEFT does. Null or absent: the trainable tensors.
   */
  exportTensors?<S, I>(
    o: O,
    config: ModelConfig,
    ps: ParamSet<S, I>,
  ): Promise<Map<string, { shape: number[]; data: Float32Array }> | null>;
  /** Why this adapter cannot load a saved file (a saved computed form cannot be inverted), or null. */
  loadError?(o: O): string | null;
  /** Options for the test matrix: small, and for gradient checks not identity at init. */
  testOptions(config: ModelConfig, nonIdentity: boolean): RawOptions;
}

/** The PEFT key prefix of a module path. */
export const peftKey = (modulePath: string, suffix: string): string =>
  `base_model.model.${modulePath}.${suffix}`;
