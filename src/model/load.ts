// From a validated checkpoint to parameter specs: every tensor the config implies, read (and converted to
// f32) in model order, after the shapes have been checked against the config and the memory the model
// needs has been checked against what the adapter allows. Nothing is allocated before both checks pass.
// checkpointBaseSource is the streaming form a FrozenBase uploads from: shapes checked up front, then one
// tensor read when asked, so the host never holds the whole model in f32.

import { modelTensors } from '../formats/architecture';
import { FormatError } from '../formats/errors';
import {
  estimateWeightBytes,
  expectedTensorShapes,
  frozenPartRows,
  frozenTensorPlan,
  largestBufferBytes,
  type ModelConfig,
  readerShapes,
  validateCheckpointShapes,
} from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import { formatBytes } from '../gpu/errors';
import type { BaseSource } from '../tensor/frozen-base';
import { flatBufferMessage, type ParamSpec } from '../tensor/params';
import type { BaseDtype } from '../tensor/weight-format';

export interface DeviceBudget {
  /** Largest single buffer the device allows (WebGPU's maxStorageBufferBindingSize / maxBufferSize). */
  maxBufferBytes: number;
  /** Memory the user lets the playground use for weights (WebGPU does not report device memory). */
  budgetBytes: number;
}

export interface FitOptions {
  /**
   * Base tensors the run trains (full fine-tuning): held whole in f32 in the flat trainable buffer, so one
   * above the per-buffer limit is refused; a frozen one is split into row parts instead.
   */
  trainable?: (name: string) => boolean;
}

/**
 * Refuses, with the figures, a model whose weights (in the base dtype) cannot fit the budget, or a tensor
 * that cannot fit the per-buffer limit: a frozen [rows, cols] tensor above it is held in row parts
 * (frozenPartRows, split-weight.ts) and accepted; a trained one, or one that cannot be split, is refused by
 * name with its size and the limit.
 */
export function checkModelFits(
  config: ModelConfig,
  budget: DeviceBudget,
  name = 'model',
  dtype: BaseDtype = 'f32',
  opts: FitOptions = {},
): void {
  const limit = budget.maxBufferBytes;
  const t = modelTensors(config);
  // The tensors whose readers take row parts (the lookups and the head, model/transformer.ts,
  // tensor/ops-lmhead.ts): the vocabulary tables, the only ones that grow this large.
  const splittable = new Set([t.embed, t.head, t.positions ?? t.embed]);
  for (const [key, p] of frozenTensorPlan(config, dtype)) {
    const trained = opts.trainable?.(key) ?? false;
    // A trained tensor is f32 whatever the base dtype; a frozen one is held in its plan's dtype.
    const held = trained ? 'f32' : p.dtype;
    const rows = p.shape[0] ?? 1;
    const cols = p.shape.slice(1).reduce((a, x) => a * x, 1);
    const bytes = largestBufferBytes(rows, cols, held, p.layout);
    if (bytes <= limit) continue;
    const what = `tensor "${key}" [${p.shape}] needs ${formatBytes(bytes)} in one buffer (${held}) but this GPU allows at most ${formatBytes(limit)} per buffer`;
    if (trained)
      throw new FormatError(
        name,
        `${what}; a trained tensor is one f32 buffer and cannot be split: train with LoRA (or another method ` +
          'that keeps it frozen: a frozen tensor is held in parts, in any base dtype, and a 16-bit base halves it) ' +
          'or choose a smaller model',
        key,
      );
    try {
      if (!splittable.has(key)) throw new Error('only the embedding and the LM head are read in row parts');
      frozenPartRows(p.shape, held, p.layout, limit);
    } catch (e) {
      throw new FormatError(
        name,
        `${what}, and it cannot be split (${(e as Error).message}); choose a smaller model`,
        key,
      );
    }
  }
  // Trained tensors that each fit still share one flat f32 buffer (tensor/params.ts), which must fit too.
  if (opts.trainable) {
    let count = 0;
    for (const [key, p] of frozenTensorPlan(config, dtype))
      if (opts.trainable(key)) count += p.shape.reduce((a, x) => a * x, 1);
    if (count * 4 > limit) throw new FormatError(name, flatBufferMessage(count, count * 4, limit));
  }
  const weights = estimateWeightBytes(config, dtype, limit);
  if (weights > budget.budgetBytes) {
    throw new FormatError(
      name,
      `weights need ${formatBytes(weights)} (${dtype}) but the memory budget is ${formatBytes(budget.budgetBytes)}; ` +
        'choose a smaller model or raise the budget',
    );
  }
}

export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
  key: string;
}

/**
 * The checkpoint as a FrozenBase's source: the shapes are checked against the config now (nothing read),
 * and each tensor is read, converted to f32, when the base asks for it. `dtype` is the user's choice for
 * the matrices (frozenTensorPlan); progress counts the checkpoint bytes read so far.
 */
export function checkpointBaseSource(
  config: ModelConfig,
  reader: TensorReader,
  dtype: BaseDtype = 'f32',
  onProgress?: (p: LoadProgress) => void,
): BaseSource {
  const match = validateCheckpointShapes(
    config,
    readerShapes(reader),
    reader.keys().length ? reader.fileOf(reader.keys()[0]) : 'model.safetensors',
  );
  let total = 0;
  for (const key of match.keyMap.values()) {
    const info = reader.info(key);
    total += info.end - info.begin;
  }
  let loaded = 0;
  const tensors = [...frozenTensorPlan(config, dtype)].map(([name, p]) => ({ name, ...p }));
  return {
    tensors,
    read: async (name) => {
      const key = match.keyMap.get(name);
      if (!key) throw new Error(`no base tensor ${name}`);
      const data = await reader.readF32(key);
      const info = reader.info(key);
      loaded += info.end - info.begin;
      onProgress?.({ loadedBytes: Math.min(loaded, total), totalBytes: total, key });
      return data;
    },
  };
}

/** The base's specs with no values read (data null): what planning and a shared base's ParamSets take. */
export function baseSpecsOf(source: BaseSource): ParamSpec[] {
  return source.tensors.map((t) => ({
    name: t.name,
    shape: t.shape,
    trainable: false,
    data: null,
    dtype: t.dtype,
    layout: t.layout,
  }));
}

/** Reads every tensor the config implies from a checkpoint, as ParamSpecs under canonical keys. */
export async function loadCheckpointSpecs(
  config: ModelConfig,
  reader: TensorReader,
  trainable: (name: string) => boolean = () => false,
  onProgress?: (p: LoadProgress) => void,
): Promise<ParamSpec[]> {
  const match = validateCheckpointShapes(
    config,
    readerShapes(reader),
    reader.keys().length ? reader.fileOf(reader.keys()[0]) : 'model.safetensors',
  );
  const expected = expectedTensorShapes(config);
  let total = 0;
  for (const key of match.keyMap.values()) {
    const info = reader.info(key);
    total += info.end - info.begin;
  }
  const specs: ParamSpec[] = [];
  let loaded = 0;
  for (const [canon, shape] of expected) {
    const key = match.keyMap.get(canon)!;
    const data = await reader.readF32(key);
    const info = reader.info(key);
    loaded += info.end - info.begin;
    onProgress?.({ loadedBytes: loaded, totalBytes: total, key });
    specs.push({ name: canon, shape, trainable: trainable(canon), data });
  }
  return specs;
}
