// Seeded shuffles and the train/eval split. Same seed, same split, on every machine: the generator is
// a 32-bit integer one (mulberry32), not Math.random.

import { rng } from '../util/rng';

/** A small seeded generator of floats in [0, 1) (the engine's mulberry32). */
export { rng as seededRandom } from '../util/rng';

/** A seeded Fisher–Yates permutation of 0..n-1. */
export function permutation(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  const r = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export interface SplitOptions {
  /** Share of the examples held out for evaluation, in [0, 1) (default 0.1). Ignored if evalCount is set. */
  evalFraction?: number;
  /** Exact number of held-out examples (clamped to leave at least one for training). */
  evalCount?: number;
  seed: number;
}

/**
 * Shuffles with `seed` and holds out an eval set: round(fraction·n) examples, but at least one when
 * anything is asked for and there are two or more examples, and never all of them. Both parts keep the
 * input's order, so the split does not depend on how the caller later shuffles.
 */
export function splitTrainEval<T>(items: readonly T[], options: SplitOptions): { train: T[]; eval: T[] } {
  const n = items.length;
  const fraction = options.evalFraction ?? 0.1;
  if (!(fraction >= 0 && fraction < 1))
    throw new RangeError(`evalFraction must be in [0, 1), got ${fraction}`);
  let k = options.evalCount ?? Math.round(fraction * n);
  const asked = options.evalCount !== undefined ? options.evalCount > 0 : fraction > 0;
  if (asked && n >= 2) k = Math.max(k, 1);
  k = Math.max(0, Math.min(k, n - 1));
  const held = new Set(permutation(n, options.seed).slice(0, k));
  const train: T[] = [];
  const evalSet: T[] = [];
  items.forEach((x, i) => {
    (held.has(i) ? evalSet : train).push(x);
  });
  return { train, eval: evalSet };
}
