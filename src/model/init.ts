// Fresh random weights for a model of a given config (test fixtures, a pretraining starting point):
// normal(0, std) matrices, ones for norm gains, zeros for biases, each tensor seeded from its name.

import { modelNorms } from '../formats/architecture';
import { expectedTensorShapes, type ModelConfig } from '../formats/model-config';
import type { ParamSpec } from '../tensor/params';
import { hashString, randn } from '../util/rng';

export function randomModelParams(
  c: ModelConfig,
  seed: number,
  trainable: (name: string) => boolean = () => false,
  std = 0.02,
  /** Tests: randomise norm gains (1 + noise) and biases too, so every gradient path carries signal. */
  randomizeAll = false,
): Array<ParamSpec & { data: Float32Array }> {
  const normGains = new Set(modelNorms(c).map((n) => `${n.path}.weight`));
  return [...expectedTensorShapes(c)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const s = (seed ^ hashString(name)) >>> 0;
    const gain = normGains.has(name);
    const special = gain || name.endsWith('.bias');
    let data: Float32Array;
    if (!special) data = Float32Array.from(randn(n, s, std));
    else if (randomizeAll) data = Float32Array.from(randn(n, s, 0.1), (v) => v + (gain ? 1 : 0));
    else data = new Float32Array(n).fill(gain ? 1 : 0);
    return { name, shape, trainable: trainable(name), data };
  });
}
