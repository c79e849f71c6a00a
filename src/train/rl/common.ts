// What the online RL runners share: the run's environment (model, tokenizer functions, reward), the
// step-wise runner interface a Web Worker interleaves (init → step() → metrics), prompt cycling, and
// rollouts (sample, decode, score) with their per-sequence batches, and gradient accumulation's split of a
// batch into micro-batches.

import type { RewardFn } from '../rewards/builtin';
import { batchSeqs, type RlModel, type Seq, type SeqBatch } from './policy';

export interface RlEnv<S, I> {
  model: RlModel<S, I>;
  /** Token ids → text, special tokens skipped. */
  decode: (ids: readonly number[]) => string;
  eosIds: readonly number[];
  padId: number;
  reward: RewardFn;
}

export interface PromptSet {
  ids: number[][];
  texts: string[];
  /** Reference answers (exact-match rewards), where the data had them. */
  references?: (string | undefined)[];
}

export interface Sample {
  prompt: string;
  completion: string;
  reward: number;
}

/** One logged step. Online algorithms fill reward_mean and kl; PPO also clipfrac and value_loss. */
export interface RlMetrics {
  step: number;
  loss: number;
  reward_mean?: number;
  kl?: number;
  entropy?: number;
  clipfrac?: number;
  value_loss?: number;
  response_len?: number;
  kl_coef?: number;
  accuracy?: number;
  /** Rejection sampling: mean reward of the kept completions, and how many were kept. */
  kept_reward_mean?: number;
  kept?: number;
  /** A few rollouts of this step, as text with their rewards (the playground shows them). */
  samples?: Sample[];
}

/** The step-wise API: a scheduler calls step() until done, interleaving runs. */
export interface RlRunner {
  readonly algo: string;
  readonly steps: number;
  readonly stepsDone: number;
  readonly done: boolean;
  step(): Promise<RlMetrics>;
  dispose(): void;
}

export interface Rollout {
  seqs: Seq[];
  scores: number[];
  samples: Sample[];
}

export interface SamplingConfig {
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
}

/** Prompts [k·B, (k+1)·B) cycling through the set, each repeated `repeat` times in a row. */
export function promptBatch(set: PromptSet, k: number, B: number, repeat = 1): number[] {
  const idx: number[] = [];
  for (let i = 0; i < B; i++) {
    const p = (k * B + i) % set.ids.length;
    for (let r = 0; r < repeat; r++) idx.push(p);
  }
  return idx;
}

/** Samples a completion per prompt index with the adapter on, decodes and scores them. */
export async function rollout<S, I>(
  env: RlEnv<S, I>,
  set: PromptSet,
  idx: readonly number[],
  s: SamplingConfig,
  seed: number,
): Promise<Rollout> {
  const gen = await env.model.generate(
    idx.map((i) => set.ids[i]),
    {
      maxNewTokens: s.maxNewTokens,
      temperature: s.temperature,
      topK: s.topK,
      topP: s.topP,
      seed,
      eosIds: env.eosIds,
      padId: env.padId,
      decode: env.decode,
    },
  );
  const seqs = gen.rows.map((r, b) => ({ prompt: set.ids[idx[b]], completion: r.tokens }));
  const items = gen.rows.map((r, b) => ({
    prompt: set.texts[idx[b]],
    completion: r.text,
    reference: set.references?.[idx[b]],
  }));
  const scores = await env.reward(items);
  if (scores.length !== items.length)
    throw new Error(`the reward gave ${scores.length} scores for ${items.length} completions`);
  const samples = items.map((x, b) => ({ prompt: x.prompt, completion: x.completion, reward: scores[b] }));
  return { seqs, scores, samples };
}

/**
 * Step k of an online algorithm: `c.batch` prompts (each `repeat` times) sampled with the adapter on, seeded
 * by the run's seed and k (so a step is reproducible on its own), scored, and batched for the scoring passes.
 */
export async function rolloutStep<S, I>(
  env: RlEnv<S, I>,
  set: PromptSet,
  k: number,
  c: SamplingConfig & { batch: number; seed: number },
  repeat = 1,
): Promise<{ idx: number[]; ro: Rollout; batch: SeqBatch }> {
  const idx = promptBatch(set, k, c.batch, repeat);
  const ro = await rollout(
    env,
    set,
    idx,
    { maxNewTokens: c.maxNewTokens, temperature: c.temperature },
    c.seed * 7919 + k,
  );
  return { idx, ro, batch: batchSeqs(ro.seqs, env.padId, env.model.virtual()) };
}

export const mean = (xs: readonly number[]): number =>
  xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;

/**
 * Gradient accumulation's split: `xs` in k consecutive micro-batches of equal size (the caller checked that
 * k divides the length; a shorter tail, as the last minibatch of rejection sampling may be, gives fewer or
 * smaller parts). k = 1: `xs` whole.
 */
export function microBatches<T>(xs: readonly T[], k: number): T[][] {
  if (k <= 1) return [xs.slice()];
  const size = Math.ceil(xs.length / k);
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** Throws unless `k` is a whole number ≥ 1 that divides `n` (the runners' check of gradAccum). */
export function checkAccum(what: string, n: number, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new Error(`grad accum must be an integer ≥ 1, got ${k}`);
  if (n % k !== 0) throw new Error(`${what} (${n}) must be a multiple of grad accum (${k})`);
}

/** Element-wise sums of stats rows (micro-batches' Σ w·… stats add up to their batch's). */
export function sumRows(rows: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(rows[0].length);
  for (const r of rows) for (let i = 0; i < out.length; i++) out[i] += r[i];
  return out;
}
