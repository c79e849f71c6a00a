// The evaluation pass, written once: the causal-LM loss of each batch with no tape recording and no
// gradients, every read started before any is awaited (the GPU queue drains once, not once a batch). The
// SFT runner's eval split (SftRunner.evalLoss) and the CLI's `eval` command both call it, so "eval loss"
// is the same computation in the page and in the CLI; they differ only in how they average (see below). The
// task metric (exact match of greedy completions) is here for the same reason.
import type { Batch } from '../data/batch';
import type { ModelConfig } from '../formats/model-config';
import { generate } from '../model/generate';
import { causalLmLoss } from '../model/loss';
import type { ModelHooks } from '../model/transformer';
import type { Backend } from '../tensor/backend';
import type { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';

export interface BatchLoss {
  /** The batch's mean token cross-entropy over its targets. */
  loss: number;
  /** Targets the mean is over (the batch's shifted labels that count). */
  targets: number;
  /** Tokens that are not padding. */
  tokens: number;
}

/** The loss of every batch, in order; packed batches are fed with their positions and segment ids. */
export async function batchLosses<S, I>(
  be: Backend<S, I>,
  config: ModelConfig,
  ps: ParamSet<S, I>,
  hooks: ModelHooks<S, I> | undefined,
  batches: Iterable<Batch>,
  packed = false,
): Promise<BatchLoss[]> {
  const reads: Promise<ArrayLike<number>>[] = [];
  const shapes: Batch[] = [];
  for (const b of batches) {
    const tp = new Tape(be, false);
    const seg = packed ? { positions: b.positionIds, segments: b.segmentIds } : {};
    const { loss } = causalLmLoss(
      tp,
      config,
      ps,
      { ids: b.inputIds, labels: b.labels, B: b.B, T: b.T, ...seg },
      hooks,
    );
    // The read is recorded before the tape's buffers go back to the pool, and awaited below.
    reads.push(be.read(loss.store, 1));
    tp.dispose();
    shapes.push(b);
  }
  const vs = await Promise.all(reads);
  return vs.map((v, i) => ({ loss: v[0], targets: shapes[i].targets, tokens: shapes[i].tokens }));
}

/** The page's eval loss: the mean of the batch means (each eval batch counts once). */
export function meanOfBatches(losses: readonly BatchLoss[]): number {
  return losses.reduce((a, l) => a + l.loss, 0) / losses.length;
}

/**
 * The mean over every target token (batches weighted by their targets), so the figure does not depend on the
 * batch size: the CLI's `eval`. Batches without targets count for nothing (their mean is undefined).
 */
export function meanOfTokens(losses: readonly BatchLoss[]): { loss: number; targets: number } {
  let sum = 0;
  let targets = 0;
  for (const l of losses) {
    if (l.targets === 0) continue;
    sum += l.loss * l.targets;
    targets += l.targets;
  }
  return { loss: sum / targets, targets };
}

/**
 * The task metric: exact-match accuracy of greedy completions on (up to `maxRows` of) `rows`, for rows
 * whose loss covers a completion only (a prompt of unlabelled tokens, then labelled ones). Null when there
 * are no such rows (plain text datasets).
 */
export async function exactMatch<S, I>(
  be: Backend<S, I>,
  config: ModelConfig,
  ps: ParamSet<S, I>,
  hooks: ModelHooks<S, I> | undefined,
  rows: Iterable<{ inputIds: ArrayLike<number>; labels: ArrayLike<number> }>,
  eosIds: readonly number[],
  maxRows = 16,
): Promise<number | null> {
  const items: { prompt: number[]; want: number[] }[] = [];
  for (const r of rows) {
    const ids = Array.from(r.inputIds);
    const labels = Array.from(r.labels);
    const cut = labels.findIndex((l) => l !== -100);
    if (cut <= 0 || labels.slice(cut).some((l) => l === -100)) continue;
    items.push({ prompt: ids.slice(0, cut), want: ids.slice(cut) });
    if (items.length >= maxRows) break;
  }
  if (items.length === 0) return null;
  const longest = Math.max(...items.map((x) => x.want.length));
  const res = await generate(
    be,
    config,
    ps,
    items.map((x) => x.prompt),
    { maxNewTokens: longest, eosIds, hooks },
  );
  let hits = 0;
  for (const [i, x] of items.entries()) {
    const got = res.rows[i].tokens.slice(0, x.want.length);
    if (got.length === x.want.length && got.every((t, j) => t === x.want[j])) hits++;
  }
  return hits / items.length;
}
