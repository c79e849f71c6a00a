// DPO with TRL's DPOTrainer semantics (sigmoid loss): for each pair, the policy's and the reference's
// log-probabilities summed over the completion tokens of chosen and rejected; loss −log σ(β·(Δchosen −
// Δrejected)). The reference is the same model with the adapter disabled, evaluated on a tape without
// gradients whose sums stay on the device for the loss kernel (no read inside a step). Metrics follow TRL:
// rewards/chosen, rewards/rejected, accuracy, margin. Gradient accumulation splits a step's pairs into equal
// micro-batches whose pair-loss gradients are scaled by their share (weightLossGrad; the reward model too).

import type { TokenizedPair } from '../../data/tokenize';
import { pairLoss } from '../../tensor/ops-rl';
import { Tape, type Tensor } from '../../tensor/tape';
import { checkAccum, microBatches, type RlMetrics, type RlRunner } from './common';
import { batchSeqs, type RlModel, type Seq, withoutVirtual } from './policy';

export interface DpoConfig {
  steps: number;
  /** Pairs per step. */
  batch: number;
  beta: number;
  lr: number;
  logEvery: number;
  /**
   * Gradient accumulation: the step's pairs run as this many equal micro-batches (reference, loss and
   * backward each; one optimizer update after the last), each loss weighted by its share of the pairs (1/k),
   * so the update is the whole batch's. The batch must be a multiple of it.
   */
  gradAccum: number;
}

export const DPO_DEFAULTS: Omit<DpoConfig, 'steps' | 'lr'> = {
  batch: 2,
  beta: 0.1,
  logEvery: 1,
  gradAccum: 1,
};

/**
 * Multiplies the gradient a loss op wrote into `t` by `w` (a micro-batch's share of its batch under gradient
 * accumulation), before backward carries it on: the pair loss is a mean over its own pairs and has no weight.
 */
export function weightLossGrad<S, I>(tp: Tape<S, I>, t: Tensor<S>, w: number): void {
  if (w === 1) return;
  const g = tp.gradOf(t);
  if (!g) return;
  // Through a copy: a kernel may not read and write one buffer.
  const tmp = tp.scratch(t.size, `${t.name}.accum`);
  tp.be.scale({ out: tmp, x: g, n: t.size, alpha: w });
  tp.be.scale({ out: g, x: tmp, n: t.size, alpha: 1 });
}

/** Stats of micro-batches as their batch's: Σ share·stats (the pair loss's stats are means over its pairs). */
export function weightedStats(rows: readonly Float64Array[], shares: readonly number[]): Float64Array {
  if (rows.length === 1) return rows[0];
  const out = new Float64Array(rows[0].length);
  for (const [j, r] of rows.entries()) for (let i = 0; i < out.length; i++) out[i] += shares[j] * r[i];
  return out;
}

/** Chosen and rejected of each pair, interleaved [c0, r0, c1, r1, …] (the pair loss's layout). */
export function pairSeqs(pairs: readonly TokenizedPair[]): Seq[] {
  const out: Seq[] = [];
  for (const p of pairs) {
    const n = p.promptIds.length;
    out.push({ prompt: p.promptIds, completion: p.chosen.inputIds.slice(n) });
    out.push({ prompt: p.promptIds, completion: p.rejected.inputIds.slice(n) });
  }
  return out;
}

/**
 * The DPO loss of a batch on `tp` against reference sums `ref` (device storage [2P]), its gradient × `weight`
 * (a micro-batch's share under gradient accumulation); returns the stats (unweighted).
 */
export function dpoLoss<S, I>(
  m: RlModel<S, I>,
  tp: Tape<S, I>,
  seqs: readonly Seq[],
  padId: number,
  ref: S,
  beta: number,
  weight = 1,
): S {
  const batch = batchSeqs(seqs, padId, m.virtual());
  const s = m.score(tp, batch);
  const sums = m.sequenceLogp(tp, batch, s.logp);
  const stats = pairLoss(tp, sums, ref, beta, 'dpo');
  weightLossGrad(tp, sums, weight);
  return stats;
}

export class DpoRunner<S, I> implements RlRunner {
  readonly algo = 'dpo';
  stepsDone = 0;

  constructor(
    readonly model: RlModel<S, I>,
    readonly pairs: readonly TokenizedPair[],
    readonly padId: number,
    readonly c: DpoConfig,
  ) {
    if (pairs.length === 0) throw new Error('DPO: no preference pairs');
    checkAccum('DPO: the batch', c.batch, c.gradAccum);
  }

  get steps(): number {
    return this.c.steps;
  }

  get done(): boolean {
    return this.stepsDone >= this.c.steps;
  }

  async step(): Promise<RlMetrics> {
    const m = this.model;
    const k = this.stepsDone;
    const pairs = Array.from(
      { length: this.c.batch },
      (_, i) => this.pairs[(k * this.c.batch + i) % this.pairs.length],
    );
    const parts = microBatches(pairs, this.c.gradAccum);
    const shares = parts.map((p) => p.length / pairs.length);
    m.ps.zeroGrads();
    const reads: Promise<Float64Array>[] = [];
    for (const [j, part] of parts.entries()) {
      const seqs = pairSeqs(part);
      const batch = batchSeqs(seqs, this.padId, m.virtual());
      // The reference's sums, kept on the device until the loss has used them.
      await m.adapter.setEnabled(false);
      const refTape = new Tape(m.be, false);
      let refSums: S;
      try {
        const refBatch = withoutVirtual(batch);
        refSums = m.sequenceLogp(refTape, refBatch, m.score(refTape, refBatch).logp).store;
      } finally {
        await m.adapter.setEnabled(true);
      }
      const tp = new Tape(m.be, true);
      const stats = dpoLoss(m, tp, seqs, this.padId, refSums, this.c.beta, shares[j]);
      tp.backward();
      reads.push(m.be.read(stats, 5));
      tp.dispose();
      refTape.dispose();
    }
    m.opt.update(this.c.lr);
    const s = weightedStats(await Promise.all(reads), shares);
    this.stepsDone++;
    return {
      step: k + 1,
      loss: s[0],
      accuracy: s[1],
      reward_mean: (s[2] + s[3]) / 2,
      // The implicit KL proxy TRL logs as rewards: β·(log π − log π_ref) of chosen and rejected.
      kl: (s[2] + s[3]) / (2 * this.c.beta),
    };
  }

  dispose(): void {
    this.model.dispose();
  }
}
