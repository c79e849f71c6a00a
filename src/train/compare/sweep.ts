// The learning-rate sweep of the fair comparison. Each method's default learning rate is PEFT's, tuned for
// billion-parameter models; at a few million parameters the best rate is often one or two decades higher
// (docs/comparison.md). So each method gets a short log grid around its default, every grid point trains
// the same token budget (same steps × batch × sequence length, seed 0), and the rate with the lowest final
// eval loss is the method's rate for the seeded runs. Shared by `cli compare` and the page's fair mode.

/**
 * Decades from the default the grid spans, by default: the default, ten and a hundred times it, because on
 * the small models this project trains PEFT's defaults are too low far more often than too high (LoRA's
 * 2e-4 barely moves the built-in model in 60 steps). `--grid -1,0,1,2` (or the page's field) adds a point below.
 */
export const DEFAULT_GRID_DECADES: readonly number[] = [0, 1, 2];

/** The grid's learning rates: default × 10^k for each k, in increasing order, rounded to 3 significant figures. */
export function lrGrid(defaultLr: number, decades: readonly number[] = DEFAULT_GRID_DECADES): number[] {
  if (!(defaultLr > 0)) throw new RangeError(`default learning rate ${defaultLr}: must be > 0`);
  if (decades.length === 0) throw new RangeError('the learning-rate grid needs at least one point');
  const lrs = [...new Set(decades)].sort((a, b) => a - b).map((k) => +(defaultLr * 10 ** k).toPrecision(3));
  return lrs;
}

/** One grid point's outcome: null eval loss when the run diverged or failed. */
export interface SweepPoint {
  lr: number;
  evalLoss: number | null;
}

/**
 * The rate with the lowest eval loss. A diverged point (null, NaN, Infinity) never wins; on a tie the lower
 * rate wins (the safer step). Null when every point failed.
 */
export function pickLr(points: readonly SweepPoint[]): number | null {
  let best: { lr: number; loss: number } | null = null;
  for (const p of points) {
    const loss = p.evalLoss;
    if (loss === null || !Number.isFinite(loss)) continue;
    if (!best || loss < best.loss || (loss === best.loss && p.lr < best.lr)) best = { lr: p.lr, loss };
  }
  return best?.lr ?? null;
}

/** Parses "−1,0,1,2" (decades around the default) for the CLI and the page's form. */
export function parseDecades(s: string): number[] {
  const ks = s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map(Number);
  if (ks.length === 0 || ks.some((k) => !Number.isFinite(k)))
    throw new RangeError(`learning-rate grid "${s}": expected decades around the default, e.g. -1,0,1,2`);
  return ks;
}
