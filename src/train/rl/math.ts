// The CPU side of the RL algorithms, on one rollout's numbers (float64): KL estimators, TRL's PPO reward
// shaping (a per-token KL penalty with the score added at the last token), GAE, masked whitening, GRPO's
// group-relative advantages and the fixed/adaptive KL coefficient. These run between the rollout (whose
// values are read back anyway: sampling happens on the CPU) and the optimisation epochs, as in TRL.

export type KlEstimator = 'k1' | 'k3';

/** Per-token KL estimate from the policy's and the reference's log-probs of the sampled token. */
export function klEstimate(logp: number, ref: number, kind: KlEstimator): number {
  const logr = ref - logp;
  // k1 = log π/π_ref (unbiased, can be negative); k3 = (r − 1) − log r with r = π_ref/π (≥ 0, low variance).
  return kind === 'k1' ? -logr : Math.expm1(logr) - logr;
}

/**
 * TRL's PPO rewards for one response of L tokens: r_t = −kl_coef·kl_t, plus the score at the last token.
 * Returns the rewards and the per-token KL.
 */
export function shapedRewards(
  logp: ArrayLike<number>,
  ref: ArrayLike<number>,
  score: number,
  klCoef: number,
  kind: KlEstimator,
): { rewards: Float64Array; kl: Float64Array } {
  const L = logp.length;
  const kl = new Float64Array(L);
  const rewards = new Float64Array(L);
  for (let t = 0; t < L; t++) {
    kl[t] = klEstimate(logp[t], ref[t], kind);
    rewards[t] = -klCoef * kl[t];
  }
  if (L > 0) rewards[L - 1] += score;
  return { rewards, kl };
}

/**
 * Generalised advantage estimation over one response: δ_t = r_t + γ·V_{t+1} − V_t (V_L = 0),
 * A_t = δ_t + γλ·A_{t+1}; returns = A + V.
 */
export function gae(
  rewards: ArrayLike<number>,
  values: ArrayLike<number>,
  gamma: number,
  lam: number,
): { advantages: Float64Array; returns: Float64Array } {
  const L = rewards.length;
  const advantages = new Float64Array(L);
  const returns = new Float64Array(L);
  let last = 0;
  for (let t = L - 1; t >= 0; t--) {
    const next = t < L - 1 ? values[t + 1] : 0;
    const delta = rewards[t] + gamma * next - values[t];
    last = delta + gamma * lam * last;
    advantages[t] = last;
  }
  for (let t = 0; t < L; t++) returns[t] = advantages[t] + values[t];
  return { advantages, returns };
}

/** Mean and unbiased variance over every value of every row (TRL's masked_mean / masked_var). */
export function meanVar(rows: readonly ArrayLike<number>[]): { mean: number; variance: number; n: number } {
  let n = 0;
  let s = 0;
  for (const r of rows) for (let i = 0; i < r.length; i++, n++) s += r[i];
  const mean = n ? s / n : 0;
  let q = 0;
  for (const r of rows) for (let i = 0; i < r.length; i++) q += (r[i] - mean) ** 2;
  return { mean, variance: n > 1 ? q / (n - 1) : 0, n };
}

/** TRL's masked_whiten over all tokens of a batch: (x − mean)/√(var + 1e-8), mean kept unless shiftMean is false. */
export function whiten(rows: readonly Float64Array[], shiftMean = true): Float64Array[] {
  const { mean, variance } = meanVar(rows);
  const inv = 1 / Math.sqrt(variance + 1e-8);
  return rows.map((r) => r.map((x) => (x - mean) * inv + (shiftMean ? 0 : mean)));
}

/** GRPO: per group of G consecutive rewards, (r − mean)/(std + 1e-4), std unbiased (torch.std). */
export function groupAdvantages(rewards: readonly number[], G: number): Float64Array {
  if (G < 1 || rewards.length % G !== 0)
    throw new Error(`${rewards.length} rewards do not split into groups of ${G}`);
  const out = new Float64Array(rewards.length);
  for (let g0 = 0; g0 < rewards.length; g0 += G) {
    const grp = rewards.slice(g0, g0 + G);
    const mean = grp.reduce((a, b) => a + b, 0) / G;
    const std = G > 1 ? Math.sqrt(grp.reduce((a, b) => a + (b - mean) ** 2, 0) / (G - 1)) : 0;
    for (let i = 0; i < G; i++) out[g0 + i] = (grp[i] - mean) / (std + 1e-4);
  }
  return out;
}

/** The KL coefficient: fixed, or Ziegler et al.'s adaptive controller as TRL had it. */
export class KlController {
  value: number;
  constructor(
    init: number,
    /** Target KL (per sequence) for the adaptive controller; null = fixed. */
    readonly target: number | null = null,
    readonly horizon = 10000,
  ) {
    this.value = init;
  }

  /** After a batch of `nSteps` sequences whose mean KL was `current`. */
  update(current: number, nSteps: number): void {
    if (this.target === null) return;
    const err = Math.min(0.2, Math.max(-0.2, current / this.target - 1));
    this.value *= 1 + (err * nSteps) / this.horizon;
  }
}
