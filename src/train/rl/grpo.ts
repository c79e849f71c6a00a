// GRPO with TRL's GRPOTrainer semantics: per prompt, G completions; advantages are group-relative,
// (r − mean)/(std + 1e-4) per prompt group, with no value head; the loss is the clipped surrogate plus
// β·k3 KL to the reference (the adapter disabled), averaged per sequence over its tokens, then over
// sequences (TRL's loss_type "grpo"). With one iteration per batch the old policy is the current one
// (ratio 1), as in TRL; more iterations reuse the batch with the clipped ratio.

import { policyLoss } from '../../tensor/ops-rl';
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
import { groupAdvantages } from './math';
import { batchSeqs, type SeqBatch } from './policy';

export interface GrpoConfig {
  steps: number;
  /** Prompts per step; each gets `generations` completions. */
  batch: number;
  generations: number;
  iterations: number;
  maxNewTokens: number;
  temperature: number;
  lr: number;
  beta: number;
  epsilon: number;
  /**
   * Gradient accumulation: each iteration's update runs the batch's batch × generations sequences as this
   * many micro-batches (backward each, one optimizer update after the last); the weights stay the whole
   * batch's, so the update is the batch's own. batch × generations must be a multiple of it.
   */
  gradAccum: number;
  seed: number;
}

/** TRL's GRPOConfig defaults where they exist (ε 0.2, β 0.04 as TRL long had it, temperature 1). */
export const GRPO_DEFAULTS: Omit<GrpoConfig, 'steps' | 'lr'> = {
  batch: 2,
  generations: 4,
  iterations: 1,
  maxNewTokens: 16,
  temperature: 1,
  beta: 0.04,
  epsilon: 0.2,
  gradAccum: 1,
  seed: 0,
};

/**
 * Loss rows [old | ref | adv | w] with w = 1/(len·sequences) (per-sequence mean, then the mean). `live`,
 * the sequences with a token, defaults to the batch's; a micro-batch passes its whole batch's.
 */
export function grpoLossData(
  batch: SeqBatch,
  old: readonly Float64Array[],
  ref: readonly Float64Array[],
  adv: ArrayLike<number>,
  live = batch.lens.filter((l) => l > 0).length,
): Float64Array {
  const N = batch.B * batch.rowsPer;
  const d = new Float64Array(4 * N);
  for (let b = 0; b < batch.B; b++) {
    for (let t = 0; t < batch.lens[b]; t++) {
      const r = batch.first[b] + t;
      d[r] = old[b][t];
      d[N + r] = ref[b][t];
      d[2 * N + r] = adv[b];
      d[3 * N + r] = 1 / (batch.lens[b] * live);
    }
  }
  return d;
}

export class GrpoRunner<S, I> implements RlRunner {
  readonly algo = 'grpo';
  stepsDone = 0;

  constructor(
    readonly env: RlEnv<S, I>,
    readonly prompts: PromptSet,
    readonly c: GrpoConfig,
  ) {
    if (prompts.ids.length === 0) throw new Error('GRPO: no prompts');
    if (c.generations < 2) throw new Error(`GRPO: generations = ${c.generations}; a group needs at least 2`);
    checkAccum('GRPO: batch × generations', c.batch * c.generations, c.gradAccum);
  }

  get steps(): number {
    return this.c.steps;
  }

  get done(): boolean {
    return this.stepsDone >= this.c.steps;
  }

  async step(): Promise<RlMetrics> {
    const m = this.env.model;
    const c = this.c;
    const k = this.stepsDone;
    const { ro, batch } = await rolloutStep(this.env, this.prompts, k, c, c.generations);
    const pol = await m.evaluate(batch, { temperature: c.temperature });
    const ref =
      c.beta > 0 ? (await m.evaluate(batch, { temperature: c.temperature, reference: true })).logp : pol.logp;
    const adv = groupAdvantages(ro.scores, c.generations);
    // Micro-batches of consecutive sequences, each with its rows of the whole batch's loss data; one
    // micro-batch is the batch itself (as before accumulation existed).
    const parts = microBatches([...ro.seqs.keys()], c.gradAccum);
    const live = batch.lens.filter((l) => l > 0).length;
    const micro = parts.map((p) => {
      const b =
        parts.length === 1
          ? batch
          : batchSeqs(
              p.map((i) => ro.seqs[i]),
              this.env.padId,
              m.virtual(),
            );
      const pick = <T>(xs: ArrayLike<T>) => p.map((i) => xs[i]);
      return { batch: b, data: grpoLossData(b, pick(pol.logp), pick(ref), pick(adv), live) };
    });
    const stats: Promise<Float64Array>[] = [];
    for (let it = 0; it < c.iterations; it++) {
      m.ps.zeroGrads();
      const reads: Promise<Float64Array>[] = [];
      for (const mb of micro) {
        const tp = new Tape(m.be, true);
        const s = m.score(tp, mb.batch, c.temperature);
        const st = policyLoss(
          tp,
          s.logp,
          mb.data,
          { clipLow: c.epsilon, clipHigh: c.epsilon, beta: c.beta },
          'grpo.loss',
        );
        tp.backward();
        reads.push(m.be.read(st, 6));
        tp.dispose();
      }
      m.opt.update(c.lr);
      // Σ w·… stats: the micro-batches' add up to the batch's.
      stats.push(Promise.all(reads).then((rs) => (rs.length === 1 ? rs[0] : sumRows(rs))));
    }
    const all = await Promise.all(stats);
    this.stepsDone++;
    return {
      step: k + 1,
      loss: mean(all.map((s) => s[0])),
      reward_mean: mean(ro.scores),
      // Σ w·k3 = the mean over sequences of the per-token mean KL (TRL's logged "kl"), first iteration.
      kl: all[0][2],
      entropy: mean(pol.entropy.flatMap((e) => Array.from(e))),
      clipfrac: mean(all.map((s) => s[3])),
      response_len: mean(ro.seqs.map((s) => s.completion.length)),
      samples: ro.samples,
    };
  }

  dispose(): void {
    this.env.model.dispose();
  }
}
