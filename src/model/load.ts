// From a validated checkpoint to parameter specs: every tensor the config implies, read (and converted to
// f32) in model order, after the shapes have been checked against the config and the memory the model
// needs has been checked against what the adapter allows. Nothing is allocated before both checks pass.

import { FormatError } from '../formats/errors';
import {
  estimateWeightBytes,
  expectedTensorShapes,
  type ModelConfig,
  readerShapes,
  validateCheckpointShapes,
} from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import { formatBytes } from '../gpu/errors';
import type { ParamSpec } from '../tensor/params';

export interface DeviceBudget {
  /** Largest single buffer the device allows (WebGPU's maxStorageBufferBindingSize / maxBufferSize). */
  maxBufferBytes: number;
  /** Memory the user lets the playground use for weights (WebGPU does not report device memory). */
  budgetBytes: number;
}

/** Refuses, with the figures, a model whose weights or largest tensor cannot fit. */
export function checkModelFits(config: ModelConfig, budget: DeviceBudget, name = 'model'): void {
  const weights = estimateWeightBytes(config, 'F32');
  let largest = 0;
  let largestKey = '';
  for (const [key, shape] of expectedTensorShapes(config)) {
    const b = shape.reduce((a, x) => a * x, 1) * 4;
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
      `weights need ${formatBytes(weights)} (f32) but the memory budget is ${formatBytes(budget.budgetBytes)}; ` +
        'choose a smaller model or raise the budget',
    );
  }
}

export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
  key: string;
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
