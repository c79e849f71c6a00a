// Reward models (TRL's RewardTrainer): the adapted model with a scalar score head read at each sequence's
// last real token, trained on preference pairs (with or without an explicit prompt) with the Bradley–Terry
// loss −log σ(r_chosen − r_rejected); accuracy on held-out pairs. A trained reward model scores texts for
// the online algorithms (`--reward model:DIR`) through `modelReward`.

import type { TokenizedPair } from '../../data/tokenize';
import { pairLoss } from '../../tensor/ops-rl';
import { Tape } from '../../tensor/tape';
import type { RewardFn } from '../rewards/builtin';
import { checkAccum, mean, microBatches, type RlMetrics, type RlRunner } from './common';
import { pairSeqs, weightedStats, weightLossGrad } from './dpo';
import { batchSeqs, type RlModel, type Seq } from './policy';

export interface RewardConfig {
  steps: number;
  /** Pairs per step. */
  batch: number;
  lr: number;
  /**
   * Gradient accumulation: the step's pairs run as this many equal micro-batches (backward each, one
   * optimizer update after the last), each loss weighted by its share of the pairs (1/k). The batch must be
   * a multiple of it.
   */
  gradAccum: number;
}

export const REWARD_DEFAULTS: Omit<RewardConfig, 'steps' | 'lr'> = { batch: 2, gradAccum: 1 };

/**
 * Bradley–Terry loss of a batch of pairs on `tp` (scores at the last tokens, reference zeros), its gradient ×
 * `weight` (a micro-batch's share under gradient accumulation); its stats (unweighted).
 */
export function rewardLoss<S, I>(
  m: RlModel<S, I>,
  tp: Tape<S, I>,
  seqs: readonly Seq[],
  padId: number,
  weight = 1,
): S {
  const batch = batchSeqs(seqs, padId, m.virtual());
  const s = m.score(tp, batch);
  const r = m.lastValues(tp, batch, s.values!);
  const zeros = tp.scratch(r.size, 'rm.zeros');
  m.be.zero(zeros, r.size);
  const stats = pairLoss(tp, r, zeros, 1, 'reward_model');
  weightLossGrad(tp, r, weight);
  return stats;
}

export class RewardRunner<S, I> implements RlRunner {
  readonly algo = 'reward';
  stepsDone = 0;

  constructor(
    readonly model: RlModel<S, I>,
    readonly train: readonly TokenizedPair[],
    readonly held: readonly TokenizedPair[],
    readonly padId: number,
    readonly c: RewardConfig,
  ) {
    if (model.head !== 'score') throw new Error('a reward model needs the model created with a score head');
    if (train.length === 0) throw new Error('reward model: no preference pairs');
    checkAccum('reward model: the batch', c.batch, c.gradAccum);
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
      (_, i) => this.train[(k * this.c.batch + i) % this.train.length],
    );
    // Gradient accumulation: equal micro-batches, each loss weighted by its share; one update.
    const parts = microBatches(pairs, this.c.gradAccum);
    const shares = parts.map((p) => p.length / pairs.length);
    m.ps.zeroGrads();
    const reads: Promise<Float64Array>[] = [];
    for (const [j, part] of parts.entries()) {
      const tp = new Tape(m.be, true);
      const stats = rewardLoss(m, tp, pairSeqs(part), this.padId, shares[j]);
      tp.backward();
      reads.push(m.be.read(stats, 5));
      tp.dispose();
    }
    m.opt.update(this.c.lr);
    const s = weightedStats(await Promise.all(reads), shares);
    this.stepsDone++;
    return { step: k + 1, loss: s[0], accuracy: s[1], reward_mean: (s[2] + s[3]) / 2 };
  }

  /** Accuracy (r_chosen > r_rejected) and mean loss over the held-out pairs (no gradients). */
  async evaluate(
    pairs: readonly TokenizedPair[] = this.held,
  ): Promise<{ accuracy: number; loss: number } | null> {
    if (pairs.length === 0) return null;
    const m = this.model;
    const acc: number[] = [];
    const loss: number[] = [];
    for (let i = 0; i < pairs.length; i += this.c.batch) {
      const tp = new Tape(m.be, false);
      const chunk = pairs.slice(i, i + this.c.batch);
      const s = await m.be.read(rewardLoss(m, tp, pairSeqs(chunk), this.padId), 2);
      tp.dispose();
      acc.push(s[1] * chunk.length);
      loss.push(s[0] * chunk.length);
    }
    return {
      accuracy: acc.reduce((a, b) => a + b, 0) / pairs.length,
      loss: mean(loss) * (loss.length / pairs.length),
    };
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Scores (prompt, completion) texts with a reward model: its head at each sequence's last token. */
export function modelReward<S, I>(
  m: RlModel<S, I>,
  encode: (text: string) => number[],
  padId: number,
): RewardFn {
  return async (items) => {
    const seqs = items.map((x) => {
      const p = encode(x.prompt);
      return { prompt: p.length ? p : [padId], completion: encode(x.completion) };
    });
    const batch = batchSeqs(seqs, padId, m.virtual());
    const tp = new Tape(m.be, false);
    try {
      const s = m.score(tp, batch);
      return Array.from(await m.be.read(m.lastValues(tp, batch, s.values!).store, items.length));
    } finally {
      tp.dispose();
    }
  };
}
