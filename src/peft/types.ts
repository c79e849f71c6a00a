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
  | 'sparse'
  | 'rows';

export type OptionValue = string | number | boolean | string[] | null;
export type RawOptions = Record<string, OptionValue>;

/**
 * One option of a method, stated once: the reader (options.ts) applies its default and range to CLI
 * strings, form values and adapter_config.json values alike, and the page's form is generated from it.
 * Plain data: the worker sends it to the page as JSON.
 */
export interface OptionSpec {
  /** The name in `--set`, the form and adapter_config.json (the same key in all three). */
  key: string;
  /** int/float: numbers in [min, max]; list: module names, a regex or all-linear; enum: one of `choices`. */
  kind: 'int' | 'float' | 'bool' | 'string' | 'list' | 'enum';
  /** The default as PEFT / the adapters library sets it (null: the method derives it from the model, see `help`). */
  default: OptionValue;
  /** Inclusive bounds of a number (a method may narrow them from the model, e.g. to its positions). */
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** How adapter_config.json writes a choice, where that differs from its name (`true` for "true"). */
  saved?: Readonly<Record<string, OptionValue>>;
  /** main: shown with the method; advanced: behind a fold. */
  group: 'main' | 'advanced';
  help: string;
}

/**
 * The picker's groups, in order: the seed's taxonomy (additive, selective, reparametrised) and the
 * full fine-tuning baseline; (IA)³, which rescales activations rather than adding a module, has its own.
 */
export const METHOD_FAMILIES = [
  { key: 'additive', label: 'Additive' },
  { key: 'selective', label: 'Selective' },
  { key: 'reparametrised', label: 'Reparametrised' },
  { key: 'ia3', label: '(IA)³' },
  { key: 'baseline', label: 'Baseline' },
] as const;

export type MethodFamily = (typeof METHOD_FAMILIES)[number]['key'];

export interface MethodInfo {
  name: MethodName;
  label: string;
  /** Its group in the picker (METHOD_FAMILIES). */
  family: MethodFamily;
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
  /**
   * The options come from a saved adapter_config.json: the adapter's values will be loaded, not
   * initialised (PEFT's inference_mode), so what only initialisation needs is not required.
   */
  saved?: boolean;
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
  /** Options from adapter_config.json / --set / the UI, read through `info.options`; throws naming the option. */
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
  /**
   * Refuses a saved adapter_config.json this method cannot rebuild, for what its options do not cover
   * (dimensions of another model, PEFT features not implemented). The options themselves are read back
   * through the specs (files.ts readAdapterConfig).
   */
  checkAdapterConfig?(json: Record<string, unknown>, config: ModelConfig): void;
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
