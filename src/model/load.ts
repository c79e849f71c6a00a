// From a validated checkpoint to parameter specs: every tensor the config implies, read (and converted to
// f32) in model order, after the shapes have been checked against the config and the memory the model
// needs has been checked against what the adapter allows. Nothing is allocated before both checks pass.
// checkpointBaseSource is the streaming form a FrozenBase uploads from: shapes checked up front, then one
// tensor read when asked, so the host never holds the whole model in f32.

import { FormatError } from '../formats/errors';
import {
  estimateWeightBytes,
  expectedTensorShapes,
  frozenTensorPlan,
  type ModelConfig,
  readerShapes,
  validateCheckpointShapes,
} from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import { formatBytes } from '../gpu/errors';
import type { BaseSource } from '../tensor/frozen-base';
import type { ParamSpec } from '../tensor/params';
import type { BaseDtype } from '../tensor/weight-format';

export interface DeviceBudget {
  /** Largest single buffer the device allows (WebGPU's maxStorageBufferBindingSize / maxBufferSize). */
  maxBufferBytes: number;
  /** Memory the user lets the playground use for weights (WebGPU does not report device memory). */
  budgetBytes: number;
}

/** Bytes of a tensor's packed values in `dtype` (u32 words: 1, 2, 4 or 8 elements each), scales aside. */
const valueBytes = (n: number, dtype: BaseDtype): number =>
  Math.ceil(n / { f32: 1, f16: 2, bf16: 2, int8: 4, nf4: 8 }[dtype]) * 4;

/** Refuses, with the figures, a model whose weights (in the base dtype) or largest tensor cannot fit. */
export function checkModelFits(
  config: ModelConfig,
  budget: DeviceBudget,
  name = 'model',
  dtype: BaseDtype = 'f32',
): void {
  const weights = estimateWeightBytes(config, dtype);
  let largest = 0;
  let largestKey = '';
  for (const [key, p] of frozenTensorPlan(config, dtype)) {
    // The values' buffer is the one that must fit the binding limit (scales are a small buffer of their own).
    const b = valueBytes(
      p.shape.reduce((a, x) => a * x, 1),
      p.dtype,
    );
    if (b > largest) {
      largest = b;
      largestKey = key;
    }
  }
  if (largest > budget.maxBufferBytes) {
    throw new FormatError(
      name,
      `tensor "${largestKey}" needs ${formatBytes(largest)} in one buffer but this GPU allows at most ` +
        `${formatBytes(budget.maxBufferBytes)} per buffer; choose a smaller model`,
      largestKey,
    );
  }
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
