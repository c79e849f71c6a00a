// CPU float64 twins of crossentropy.ts. Targets outside [0, V) (-100 in practice) are ignored, as on the GPU.

import { putInto } from './common';
import type { CrossEntropyArgs, LogSoftmaxGatherArgs } from './crossentropy';

const ignored = (t: number, V: number): boolean => !(t >= 0 && t < V);

function rowLse(logits: ArrayLike<number>, base: number, V: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < V; j++) m = Math.max(m, logits[base + j]);
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(logits[base + j] - m);
  return m + Math.log(s);
}

/** losses[i] = lse_i − x[i, t_i]; dLogits = scale·(softmax − onehot); both 0 for ignored rows. */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  N: number,
  V: number,
  scale: number,
): { losses: Float64Array; dLogits: Float64Array } {
  const losses = new Float64Array(N);
  const dLogits = new Float64Array(N * V);
  for (let i = 0; i < N; i++) {
    const t = targets[i];
    if (ignored(t, V)) continue;
    const base = i * V;
    const lse = rowLse(logits, base, V);
    losses[i] = lse - logits[base + t];
    for (let j = 0; j < V; j++)
      dLogits[base + j] = scale * (Math.exp(logits[base + j] - lse) - (j === t ? 1 : 0));
  }
  return { losses, dLogits };
}

/** out[i] = x[i, t_i] − lse_i, 0 for ignored rows. Its gradient is onehot − softmax. */
export function logSoftmaxGatherRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  N: number,
  V: number,
): Float64Array {
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t = targets[i];
    if (!ignored(t, V)) out[i] = logits[i * V + t] - rowLse(logits, i * V, V);
  }
  return out;
}

/** The twin of crossEntropy(): losses, and dLogits when given. */
export function crossEntropyTwin(p: CrossEntropyArgs<Float64Array, Int32Array>): void {
  const r = crossEntropyRef(p.logits, p.targets, p.N, p.V, p.scale);
  putInto(p.losses, r.losses);
  if (p.dLogits) putInto(p.dLogits, r.dLogits);
}

/** The twin of logSoftmaxGather(). */
export function logSoftmaxGatherTwin(p: LogSoftmaxGatherArgs<Float64Array, Int32Array>): void {
  putInto(p.out, logSoftmaxGatherRef(p.logits, p.targets, p.N, p.V));
}
