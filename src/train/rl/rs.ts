// Rejection-sampling fine-tuning (best-of-n / RAFT / ReST style): each round samples n completions per
// prompt with the current policy, scores them, keeps the best k per prompt (or those scoring at least a
// threshold), and fine-tunes on the kept set (cross-entropy on the completion tokens only) for a few epochs.
// Metrics per round: mean reward of all samples and of the kept ones, how many were kept, the SFT loss and
// the KL of the sampled completions to the reference (adapter disabled).

import { causalLmLoss } from '../../model/loss';
import { Tape } from '../../tensor/tape';
import {
  checkAccum,
  mean,
  microBatches,
  type PromptSet,
  type RlEnv,
  type RlMetrics,
  type RlRunner,
  rolloutStep,
  sumRows,
} from './common';
import { batchSeqs, type Seq } from './policy';

export interface RsConfig {
  /** Rounds. */
  steps: number;
  /** Prompts per round. */
  batch: number;
  /** Samples per prompt. */
  n: number;
  /** Keep the best k per prompt… */
  keep: number;
  /** …and only those scoring at least this (null: no threshold). */
  threshold: number | null;
  sftEpochs: number;
  miniBatch: number;
  /**
   * Gradient accumulation: each fine-tuning minibatch runs as this many micro-batches (backward each, one
   * optimizer update after the last), each loss weighted by its share of the minibatch's completion tokens,
   * so the update is the minibatch's own. The minibatch must be a multiple of it.
   */
  gradAccum: number;
  maxNewTokens: number;
  temperature: number;
  lr: number;
  seed: number;
}

export const RS_DEFAULTS: Omit<RsConfig, 'steps' | 'lr'> = {
  batch: 4,
  n: 4,
  keep: 1,
  threshold: null,
  sftEpochs: 2,
  miniBatch: 4,
  gradAccum: 1,
  maxNewTokens: 16,
  temperature: 1,
  seed: 0,
};

/** Indices kept from groups of n consecutive scores: the best `keep` of each group at or above the threshold. */
export function selectBest(
  scores: readonly number[],
  n: number,
  keep: number,
  threshold: number | null,
): number[] {
  const out: number[] = [];
  for (let g0 = 0; g0 < scores.length; g0 += n) {
    const grp = Array.from({ length: Math.min(n, scores.length - g0) }, (_, i) => g0 + i);
    // Stable: ties keep the earlier sample.
    grp.sort((a, b) => scores[b] - scores[a] || a - b);
    for (const i of grp.slice(0, keep)) if (threshold === null || scores[i] >= threshold) out.push(i);
  }
  return out.sort((a, b) => a - b);
}

export class RsRunner<S, I> implements RlRunner {
  readonly algo = 'rs';
  stepsDone = 0;

  constructor(
    readonly env: RlEnv<S, I>,
    readonly prompts: PromptSet,
    readonly c: RsConfig,
  ) {
    if (prompts.ids.length === 0) throw new Error('rejection sampling: no prompts');
    if (c.keep < 1 || c.keep > c.n)
      throw new Error(`rejection sampling: keep ${c.keep} must be 1..n (${c.n})`);
    checkAccum('rejection sampling: the minibatch', c.miniBatch, c.gradAccum);
  }

  get steps(): number {
    return this.c.steps;
  }

  get done(): boolean {
    return this.stepsDone >= this.c.steps;
  }

  /** Cross-entropy on the completion tokens of `seqs` (mean over tokens, × `weight`) on `tp`: the causal-LM
   * loss with the prompt tokens unlabelled. */
  sftLoss(tp: Tape<S, I>, seqs: readonly Seq[], weight?: number) {
    const m = this.env.model;
    const batch = batchSeqs(seqs, this.env.padId, m.virtual());
    return causalLmLoss(
      tp,
      m.config,
      m.ps,
      { ids: batch.ids, B: batch.B, T: batch.T, labels: completionLabels(seqs, batch.T) },
      m.adapter.hooks,
      { name: 'rs.sft', weight },
    ).loss;
  }

  /**
   * One fine-tuning update on `seqs`: gradAccum micro-batches, each loss (a mean over its completion tokens)
   * weighted by its share of the minibatch's tokens so they sum to the minibatch's mean; one optimizer update.
   * Returns the minibatch's loss.
   */
  update(seqs: readonly Seq[]): Promise<Float64Array> {
    const m = this.env.model;
    const parts = microBatches(seqs, this.c.gradAccum);
    const tokens = (xs: readonly Seq[]) => xs.reduce((a, s) => a + s.completion.length, 0);
    const all = tokens(seqs);
    m.ps.zeroGrads();
    const reads: Promise<Float64Array>[] = [];
    for (const part of parts) {
      const tp = new Tape(m.be, true);
      // One micro-batch: no weight, as before accumulation existed.
      const loss = this.sftLoss(tp, part, parts.length > 1 ? tokens(part) / all : undefined);
      tp.backward();
      reads.push(m.be.read(loss.store, 1));
      tp.dispose();
    }
    m.opt.update(this.c.lr);
    return Promise.all(reads).then((rs) => (rs.length === 1 ? rs[0] : sumRows(rs)));
  }

  async step(): Promise<RlMetrics> {
    const m = this.env.model;
    const c = this.c;
    const k = this.stepsDone;
    const { ro, batch } = await rolloutStep(this.env, this.prompts, k, c, c.n);
    const pol = await m.evaluate(batch);
    const ref = await m.evaluate(batch, { reference: true });
    const kl = mean(pol.logp.map((lp, b) => lp.reduce((a, x, t) => a + x - ref.logp[b][t], 0)));
    const kept = selectBest(ro.scores, c.n, c.keep, c.threshold).filter(
      (i) => ro.seqs[i].completion.length > 0,
    );
    const losses: Promise<Float64Array>[] = [];
    for (let e = 0; e < c.sftEpochs && kept.length; e++) {
      for (let s0 = 0; s0 < kept.length; s0 += c.miniBatch) {
        losses.push(this.update(kept.slice(s0, s0 + c.miniBatch).map((i) => ro.seqs[i])));
      }
    }
    const ls = await Promise.all(losses);
    this.stepsDone++;
    return {
      step: k + 1,
      loss: ls.length ? ls[ls.length - 1][0] : 0,
      reward_mean: mean(ro.scores),
      kept_reward_mean: mean(kept.map((i) => ro.scores[i])),
      kept: kept.length,
      kl,
      entropy: mean(pol.entropy.flatMap((e) => Array.from(e))),
      response_len: mean(ro.seqs.map((s) => s.completion.length)),
      samples: ro.samples,
    };
  }

  dispose(): void {
    this.env.model.dispose();
  }
}

/** Labels [B·T] before the shift: each completion token at its own position, -100 elsewhere. */
export function completionLabels(seqs: readonly Seq[], T: number): Int32Array {
  const labels = new Int32Array(seqs.length * T).fill(-100);
  for (const [b, s] of seqs.entries()) labels.set(s.completion, b * T + s.prompt.length);
  return labels;
}
