// Merged checkpoints: a mergeable method folded into the base weights and written as a plain Hugging Face
// model folder (config.json + model.safetensors) that loads here, in transformers, and in the ONNX path.
// Biases a method added to a bias-less model (BitFit on Llama) turn the config's bias flags on, with zero
// biases for the linears it did not target, since HF's flags cover every projection at once.
// On a 16-bit or quantized base (weight-format.ts) the delta cannot go into the packed weights: the merge
// runs on f32 copies of the tensors it touches (the dequantized base), and the merged model — the dequantized
// base + ΔW — is written 16-bit (QLoRA's practice: the base was never more precise than that): F16 when the
// base was held in f16, BF16 otherwise (its range is f32's, so an int8 or NF4 scale cannot overflow it). The
// run's own tensors stay as they are.

import {
  BIAS_GROUPS,
  BIAS_RULES,
  type BiasGroup,
  biasGroupLinears,
  hasBias,
  modelTensors,
} from '../formats/architecture';
import { expectedTensorShapes, type ModelConfig } from '../formats/model-config';
import { toConfigJson } from '../formats/model-config-json';
import { type TensorToWrite, writeSafetensors } from '../formats/safetensors';
import type { ParamSet } from '../tensor/params';
import { Tensor } from '../tensor/tape';
import type { BaseDtype } from '../tensor/weight-format';
import type { Adapter } from './adapter';

export interface MergedModel {
  config: ModelConfig;
  configJson: string;
  weights: Uint8Array;
}

/**
 * The config the merged weights need: bias flags turned on where the adapter added biases, by the
 * architecture's bias rules (a flag turns on every group it governs; a group no flag governs cannot).
 */
export function mergedConfig(config: ModelConfig, tensorNames: ReadonlySet<string>): ModelConfig {
  const { blocks } = modelTensors(config);
  const rules = BIAS_RULES[config.modelType];
  const added = BIAS_GROUPS.filter(
    (g) =>
      !hasBias(config, g) &&
      blocks.some((b) => biasGroupLinears(b, g).some((l) => tensorNames.has(`${l.site.path}.bias`))),
  );
  if (added.length === 0) return config;
  const stuck = added.filter((g) => typeof rules[g] !== 'string');
  if (stuck.length > 0) {
    const modules = [
      ...new Set(stuck.flatMap((g) => biasGroupLinears(blocks[0], g).map((l) => l.site.module))),
    ];
    throw new Error(
      `a merged ${config.modelType} cannot carry ${modules.join(', ')} biases (${config.modelType} has no flag for them); export the adapter instead`,
    );
  }
  const flags = new Set(added.map((g) => rules[g]));
  const on = (g: BiasGroup) => hasBias(config, g) || flags.has(rules[g]);
  return { ...config, qkvBias: on('qkv'), oBias: on('o'), mlpBias: on('mlp') };
}

/** The merged model's weights in checkpoint order: the ParamSet's, zeros for biases a flag turned on. */
export async function mergedWeights<S, I>(
  config: ModelConfig,
  ps: ParamSet<S, I>,
  /** Tensors that replace the set's own (f32 copies a merge on a formatted base wrote into). */
  copies: ReadonlyMap<string, Tensor<S>> = new Map(),
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const copy = copies.get(name);
    const data = copy
      ? Float32Array.from(await ps.be.read(copy.store, copy.size))
      : ps.tensors.has(name)
        ? Float32Array.from(await ps.read(name))
        : new Float32Array(n);
    if (data.length !== n) throw new Error(`merged tensor ${name}: ${data.length} values for [${shape}]`);
    out.set(name, { shape, data });
  }
  return out;
}

/**
 * The set as a merge sees it, with every tensor the merge looks up replaced by a private f32 copy (a
 * formatted one dequantized): the merge writes only into the copies, so the run's tensors and a shared
 * base stay untouched, and only the tensors the method targets are ever widened.
 */
function copyingView<S, I>(ps: ParamSet<S, I>): { view: ParamSet<S, I>; copies: Map<string, Tensor<S>> } {
  const copies = new Map<string, Tensor<S>>();
  const be = ps.be;
  const copyOf = (name: string): Tensor<S> | undefined => {
    const have = copies.get(name);
    if (have) return have;
    const t = ps.tensors.get(name);
    if (!t) return undefined;
    const store = be.alloc(t.size, 'workspace', `${name}.merged`);
    be.dequant({ out: store, values: t.store, format: t.format, shape: t.shape });
    const c = new Tensor<S>(t.shape, store, false, name, true);
    copies.set(name, c);
    return c;
  };
  const tensors = {
    get: copyOf,
    has: (name: string) => ps.tensors.has(name),
    keys: () => ps.tensors.keys(),
  };
  const get = (name: string) => {
    const t = copyOf(name);
    if (!t) throw new Error(`no parameter named ${name}`);
    return t;
  };
  // Merges reach the set through be, get and tensors.get/has only (the PeftMethod.merge contract).
  return { view: { be, get, tensors } as unknown as ParamSet<S, I>, copies };
}

/** The 16-bit dtype a merge onto a packed base is written in: f16 for an f16 base, else bf16. */
export function mergedDtypeOf(formats: readonly BaseDtype[]): { dtype: 'F16' | 'BF16'; torch: string } {
  return formats.length > 0 && formats.every((d) => d === 'f16')
    ? { dtype: 'F16', torch: 'float16' }
    : { dtype: 'BF16', torch: 'bfloat16' };
}

/** The merged weights of an adapter on a 16-bit or quantized base: dequantized base + ΔW, in 16 bits. */
async function mergedOnFormattedBase<S, I>(
  adapter: Adapter<S, I, unknown>,
  f32: boolean,
): Promise<MergedModel> {
  const { method, ps, plan } = adapter;
  const be = ps.be;
  const out = f32
    ? { dtype: 'F32' as const, torch: 'float32' }
    : mergedDtypeOf(
        [...ps.tensors.values()].flatMap((t) =>
          t.format && t.format.dtype !== 'f32' ? [t.format.dtype] : [],
        ),
      );
  const { view, copies } = copyingView(ps);
  const ints = new Map(
    plan.ints.map(({ name, data }) => [name, { store: be.uploadInt(data, name), cpu: data }]),
  );
  try {
    method.merge?.(plan.options, adapter.config, view, 1, ints);
    const config = mergedConfig(adapter.config, new Set(ps.tensors.keys()));
    const tensors = new Map<string, TensorToWrite>();
    for (const [name, { shape, data }] of await mergedWeights(config, ps, copies))
      tensors.set(name, { dtype: out.dtype, shape, data });
    return {
      config,
      configJson: `${JSON.stringify({ ...toConfigJson(config), torch_dtype: out.torch }, null, 2)}\n`,
      weights: writeSafetensors(tensors),
    };
  } finally {
    for (const { store } of ints.values()) be.freeInt(store);
    for (const c of copies.values()) be.free(c.store);
  }
}

export interface MergedExportOptions {
  /** Write f32 even on a 16-bit or quantized base (tests compare the 16-bit file with it). */
  f32?: boolean;
}

export async function exportMergedModel<S, I>(
  adapter: Adapter<S, I, unknown>,
  opts: MergedExportOptions = {},
): Promise<MergedModel> {
  const { method, ps } = adapter;
  if (!method.info.mergeable) {
    throw new Error(
      `${method.info.label} cannot be merged into the weights: export the adapter files instead`,
    );
  }
  const wasMerged = adapter.state.merged;
  if (!adapter.state.enabled) throw new Error('enable the adapter before exporting the merged model');
  const formatted = [...ps.tensors.values()].some((t) => t.format !== null);
  if (formatted && !wasMerged) return mergedOnFormattedBase(adapter, opts.f32 === true);
  if (!wasMerged) adapter.merge();
  try {
    const config = mergedConfig(adapter.config, new Set(ps.tensors.keys()));
    const tensors = new Map<string, TensorToWrite>();
    for (const [name, { shape, data }] of await mergedWeights(config, ps))
      tensors.set(name, { dtype: 'F32', shape, data });
    return {
      config,
      configJson: `${JSON.stringify(toConfigJson(config), null, 2)}\n`,
      weights: writeSafetensors(tensors),
    };
  } finally {
    if (!wasMerged) adapter.unmerge();
  }
}
