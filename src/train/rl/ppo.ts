// PPO with TRL's semantics (PPOTrainer/PPOConfig): the policy is the model + a PEFT method with a value head;
// the reference is the same model with the adapter disabled. Each step: sample a batch of responses with the
// KV cache, score them, compute old log-probs, values and reference log-probs (no gradients), shape rewards
// (per-token −kl_coef·KL, k1 or k3, with the score at the last token), GAE(γ, λ), whiten advantages, then
// several epochs over shuffled minibatches of the clipped policy loss + vf_coef·clipped value loss. The KL
// coefficient is fixed or adaptive. The per-minibatch losses run on the device (ops-rl); the stats are read
// once per step.

import { policyLoss, valueLoss } from '../../tensor/ops-rl';
import type { Tape } from '../../tensor/tape';
import { Tape as TapeCtor } from '../../tensor/tape';
import { rng } from '../../util/rng';
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
import { gae, KlController, type KlEstimator, shapedRewards, whiten } from './math';
import { batchSeqs, type Seq } from './policy';

export interface PpoConfig {
  steps: number;
  /** Prompts per rollout batch. */
  batch: number;
  miniBatch: number;
  epochs: number;
  maxNewTokens: number;
  temperature: number;
  lr: number;
  cliprange: number;
  clipRangeValue: number;
  vfCoef: number;
  gamma: number;
  lam: number;
  klCoef: number;
  kl: KlEstimator;
  /** Target KL per sequence for the adaptive controller; null: fixed coefficient. */
  targetKl: number | null;
  horizon: number;
  whitenAdvantages: boolean;
  /**
   * TRL's score_clip: scores are clipped to [−scoreClip, scoreClip] before the KL penalty is added (null:
   * not clipped). A reward that grows without bound (one more positive word, one more point) can outbid
   * any KL coefficient; clipped, it cannot, and the penalty keeps the policy near the reference.
   */
  scoreClip: number | null;
  /**
   * Gradient accumulation: each minibatch runs as this many micro-batches (backward each, one optimizer
   * update after the last), every token weighted by 1/(the whole minibatch's tokens), so the update is the
   * minibatch's own; the rollout is unchanged. The minibatch must be a multiple of it.
   */
  gradAccum: number;
  seed: number;
}

/** TRL's PPOConfig defaults where they exist (num_ppo_epochs 4, cliprange 0.2, vf_coef 0.1, γ 1, λ 0.95, kl 0.05). */
export const PPO_DEFAULTS: Omit<PpoConfig, 'steps' | 'lr'> = {
  batch: 4,
  miniBatch: 2,
  epochs: 4,
  maxNewTokens: 16,
  temperature: 0.7,
  cliprange: 0.2,
  clipRangeValue: 0.2,
  vfCoef: 0.1,
  gamma: 1,
  lam: 0.95,
  klCoef: 0.05,
  kl: 'k1',
  targetKl: null,
  horizon: 10000,
  whitenAdvantages: true,
  scoreClip: null,
  gradAccum: 1,
  seed: 0,
};

/** One rollout made ready for the optimisation epochs: per sequence, per completion token. */
export interface PpoExperience {
  seqs: Seq[];
  old: Float64Array[];
  values: Float64Array[];
  advantages: Float64Array[];
  returns: Float64Array[];
}

/** Rewards, KL, GAE and whitening on a rollout's read-back numbers (the CPU part of a PPO step). */
export function ppoExperience(
  seqs: Seq[],
  scores: readonly number[],
  old: Float64Array[],
  ref: Float64Array[],
  values: Float64Array[],
  c: Pick<PpoConfig, 'klCoef' | 'kl' | 'gamma' | 'lam' | 'whitenAdvantages'> & { scoreClip?: number | null },
): PpoExperience & { klPerSeq: number[] } {
  const clip = c.scoreClip ?? null;
  const klPerSeq: number[] = [];
  const advs: Float64Array[] = [];
  const rets: Float64Array[] = [];
  for (let b = 0; b < seqs.length; b++) {
    const score = clip === null ? scores[b] : Math.max(-clip, Math.min(clip, scores[b]));
    const { rewards, kl } = shapedRewards(old[b], ref[b], score, c.klCoef, c.kl);
    klPerSeq.push(kl.reduce((a, x) => a + x, 0));
    const g = gae(rewards, values[b], c.gamma, c.lam);
    advs.push(g.advantages);
    rets.push(g.returns);
  }
  return {
    seqs,
    old,
    values,
    advantages: c.whitenAdvantages ? whiten(advs) : advs,
    returns: rets,
    klPerSeq,
  };
}

/**
 * Rows of the minibatch's policy and value loss data: [old | ref | adv | w] and [old | ret | w·vfCoef], with
 * w = 1/count. `count` defaults to the tokens of `mb`; a micro-batch of a minibatch passes the minibatch's,
 * so its micro-batches' losses and gradients sum to the minibatch's.
 */
export function ppoLossData(
  exp: PpoExperience,
  mb: readonly number[],
  padId: number,
  virtual: number,
  vfCoef: number,
  count?: number,
) {
  const batch = batchSeqs(
    mb.map((i) => exp.seqs[i]),
    padId,
    virtual,
  );
  const N = batch.B * batch.rowsPer;
  const pol = new Float64Array(4 * N);
  const val = new Float64Array(3 * N);
  count ??= batch.lens.reduce((a, b) => a + b, 0);
  for (const [b, i] of mb.entries()) {
    for (let t = 0; t < batch.lens[b]; t++) {
      const r = batch.first[b] + t;
      pol[r] = exp.old[i][t];
      pol[N + r] = exp.old[i][t];
      pol[2 * N + r] = exp.advantages[i][t];
      pol[3 * N + r] = 1 / count;
      val[r] = exp.values[i][t];
      val[N + r] = exp.returns[i][t];
      val[2 * N + r] = vfCoef / count;
    }
  }
  return { batch, pol, val, count };
}

export class PpoRunner<S, I> implements RlRunner {
  readonly algo = 'ppo';
  stepsDone = 0;
  readonly kl: KlController;
  private readonly shuffle: () => number;

  constructor(
    readonly env: RlEnv<S, I>,
    readonly prompts: PromptSet,
    readonly c: PpoConfig,
  ) {
    if (env.model.head !== 'value') throw new Error('PPO needs the model created with a value head');
    if (prompts.ids.length === 0) throw new Error('PPO: no prompts');
    if (c.batch % c.miniBatch !== 0)
      throw new Error(`PPO: the batch (${c.batch}) must be a multiple of the minibatch (${c.miniBatch})`);
    checkAccum('PPO: the minibatch', c.miniBatch, c.gradAccum);
    this.kl = new KlController(c.klCoef, c.targetKl, c.horizon);
    this.shuffle = rng(c.seed ^ 0x9e37);
  }

  get steps(): number {
    return this.c.steps;
  }

  get done(): boolean {
    return this.stepsDone >= this.c.steps;
  }

  /**
   * One minibatch's (or micro-batch's, with `count` the whole minibatch's tokens) losses on `tp` (grad on):
   * the device stats of the policy and value losses.
   */
  minibatchLoss(tp: Tape<S, I>, exp: PpoExperience, mb: readonly number[], count?: number) {
    const m = this.env.model;
    const d = ppoLossData(exp, mb, this.env.padId, m.virtual(), this.c.vfCoef, count);
    const s = m.score(tp, d.batch, this.c.temperature);
    const pstats = policyLoss(
      tp,
      s.logp,
      d.pol,
      { clipLow: this.c.cliprange, clipHigh: this.c.cliprange, beta: 0 },
      'ppo.policy',
    );
    const vstats = valueLoss(tp, s.values!, d.val, this.c.clipRangeValue, 'ppo.value');
    return { pstats, vstats };
  }

  /**
   * One optimizer update on minibatch `mb`: its gradAccum micro-batches' backward passes (each token
   * weighted by 1/(the minibatch's tokens), so the gradients sum to the minibatch's), then one update. The
   * stats are Σ w·… sums, so the micro-batches' add up to the minibatch's.
   */
  update(exp: PpoExperience, mb: readonly number[]): Promise<[Float64Array, Float64Array]> {
    const m = this.env.model;
    const parts = microBatches(mb, this.c.gradAccum);
    // One micro-batch: the minibatch's own count (as before accumulation existed).
    const count = parts.length > 1 ? mb.reduce((a, i) => a + exp.seqs[i].completion.length, 0) : undefined;
    m.ps.zeroGrads();
    const reads: Promise<[Float64Array, Float64Array]>[] = [];
    for (const part of parts) {
      const tp = new TapeCtor(m.be, true);
      const { pstats, vstats } = this.minibatchLoss(tp, exp, part, count);
      tp.backward();
      reads.push(Promise.all([m.be.read(pstats, 6), m.be.read(vstats, 3)]));
      tp.dispose();
    }
    m.opt.update(this.c.lr);
    return Promise.all(reads).then((rs) =>
      rs.length === 1 ? rs[0] : [sumRows(rs.map((r) => r[0])), sumRows(rs.map((r) => r[1]))],
    );
  }

  async step(): Promise<RlMetrics> {
    const m = this.env.model;
    const c = this.c;
    const k = this.stepsDone;
    const { idx, ro, batch } = await rolloutStep(this.env, this.prompts, k, c);
    const pol = await m.evaluate(batch, { temperature: c.temperature });
    const ref = await m.evaluate(batch, { temperature: c.temperature, reference: true });
    const exp = ppoExperience(ro.seqs, ro.scores, pol.logp, ref.logp, pol.values!, {
      ...c,
      klCoef: this.kl.value,
    });
    const stats: Array<Promise<[Float64Array, Float64Array]>> = [];
    const order = [...idx.keys()];
    for (let e = 0; e < c.epochs; e++) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(this.shuffle() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (let s0 = 0; s0 < order.length; s0 += c.miniBatch)
        stats.push(this.update(exp, order.slice(s0, s0 + c.miniBatch)));
    }
    const all = await Promise.all(stats);
    const lens = ro.seqs.map((s) => s.completion.length);
    const ents = pol.entropy.flatMap((e) => Array.from(e));
    const klMean = mean(exp.klPerSeq);
    const metrics: RlMetrics = {
      step: k + 1,
      loss: mean(all.map(([p, v]) => p[0] + v[0])),
      reward_mean: mean(ro.scores),
      kl: klMean,
      entropy: mean(ents),
      clipfrac: mean(all.map(([p]) => p[3])),
      // The value rows were weighted by vf_coef/count: undo the coefficient for the metric.
      value_loss: mean(all.map(([, v]) => v[0] / c.vfCoef)),
      response_len: mean(lens),
      kl_coef: this.kl.value,
      samples: ro.samples,
    };
    this.kl.update(klMean, c.batch);
    this.stepsDone++;
    return metrics;
  }

  dispose(): void {
    this.env.model.dispose();
  }
}
