// Differentiable ops for RLHF on the tape: per-token log-probabilities of chosen tokens (with the softmax's
// entropy as a by-product, for metrics), the clipped policy loss (PPO, GRPO), the clipped value loss, the
// pairwise sigmoid loss (DPO, Bradley–Terry reward models), and a weighted per-sequence sum (a sequence's
// log-probability over its completion tokens; a reward model's score at its last token). Loss ops write
// their input's gradient in the forward pass, as crossEntropy does, so they come last before backward; the
// log-prob backward then reads that gradient from the device as its per-token weight — a step needs no read.
// The primitives are the Backend's (rl.ts's kernels on the GPU, their float64 twins on the CPU, no-ops on
// the memory meter), so RL model code runs, and is metered, as the rest of the model is.

import type { Tape, Tensor } from './tape';

function check(cond: boolean, msg: () => string): void {
  if (!cond) throw new Error(msg());
}

/** Storage holding `data` for the tape's lifetime. */
function constant<S, I>(tp: Tape<S, I>, data: ArrayLike<number>, name: string): S {
  const s = tp.scratch(data.length, name);
  tp.be.write(s, data);
  return s;
}

/**
 * log softmax(logits_r)[t_r] for logits [N, V] as a [N] tensor (0 where t_r is ignored, e.g. -1 or -100),
 * and each row's entropy (storage, no gradient). The backward is g[r]·(onehot − softmax) with g the
 * log-prob's gradient, wherever on the device it came from.
 */
export function tokenLogprobs<S, I>(
  tp: Tape<S, I>,
  logits: Tensor<S>,
  targets: Int32Array,
  name: string,
): { logp: Tensor<S>; entropy: S } {
  const V = logits.shape[logits.shape.length - 1];
  const N = logits.size / V;
  check(targets.length === N, () => `${name}: ${targets.length} targets for ${N} rows of logits`);
  const logp = tp.tensor([N], tp.needsGrad(logits), name);
  const ent = tp.scratch(N, `${name}.entropy`);
  const lse = tp.scratch(N, `${name}.lse`);
  const tgt = tp.ints(targets, `${name}.targets`);
  tp.be.tokenLogprobs({ logp: logp.store, ent, lse, logits: logits.store, targets: tgt, N, V });
  if (logp.requiresGrad) {
    tp.record(name, () => {
      const g = tp.gradOf(logp);
      if (!g) return;
      const t = tp.gradTarget(logits);
      tp.be.logprobBackward({
        dLogits: t.buf,
        logits: logits.store,
        targets: tgt,
        lse,
        g,
        N,
        V,
        accumulate: t.accumulate,
      });
      tp.wrote(logits);
    });
  }
  return { logp, entropy: ent };
}

/** The gradient buffer a loss op writes in its forward pass (it must be the first to write it). */
function lossGrad<S, I>(tp: Tape<S, I>, x: Tensor<S>, name: string): S {
  if (!tp.needsGrad(x)) return tp.scratch(x.size, `${name}.g`);
  const t = tp.gradTarget(x);
  if (t.accumulate) throw new Error(`${name}: its input already carries a gradient; the loss must come last`);
  tp.wrote(x);
  return t.buf;
}

/**
 * Σ_t w_t·(clipped surrogate + β·k3 KL to the reference) over per-token log-probs [N]; `data` is
 * [old | ref | adv | w] (4N, known on the CPU: the rollout's). Returns the stats storage
 * Σ w·(loss, pg, kl, clipped, approx-KL, ratio); w carries the normalisation (masked mean, per sequence…).
 */
export function policyLoss<S, I>(
  tp: Tape<S, I>,
  logp: Tensor<S>,
  data: Float64Array,
  p: { clipLow: number; clipHigh: number; beta: number },
  name: string,
): S {
  const N = logp.size;
  check(data.length === 4 * N, () => `${name}: ${data.length} rollout values for ${N} tokens (want 4N)`);
  const stats = tp.scratch(8, `${name}.stats`);
  const g = lossGrad(tp, logp, name);
  tp.be.policyLoss({ logp: logp.store, data: constant(tp, data, `${name}.data`), g, stats, N, ...p });
  return stats;
}

/** Σ_t w_t·½·max((v − ret)², (v_clipped − ret)²); data = [old | ret | w] (3N). Stats Σ w·(loss, clipped, v). */
export function valueLoss<S, I>(
  tp: Tape<S, I>,
  v: Tensor<S>,
  data: Float64Array,
  clip: number,
  name: string,
): S {
  const N = v.size;
  check(data.length === 3 * N, () => `${name}: ${data.length} rollout values for ${N} tokens (want 3N)`);
  const stats = tp.scratch(4, `${name}.stats`);
  const g = lossGrad(tp, v, name);
  tp.be.valueLoss({ v: v.store, data: constant(tp, data, `${name}.data`), g, stats, N, clip });
  return stats;
}

/**
 * Mean −log σ(β·((c − ref_c) − (r − ref_r))) over pairs of scores s = [c0, r0, c1, r1, …] ([2P]); ref is
 * device storage of the same layout (DPO: the reference model's sums; reward models: zeros, β = 1).
 * Stats: means of (loss, accuracy, βΔc, βΔr, margin).
 */
export function pairLoss<S, I>(tp: Tape<S, I>, s: Tensor<S>, ref: S, beta: number, name: string): S {
  check(s.size % 2 === 0 && s.size > 0, () => `${name}: ${s.size} scores do not make pairs`);
  const stats = tp.scratch(8, `${name}.stats`);
  const ds = lossGrad(tp, s, name);
  tp.be.pairLoss({ s: s.store, ref, ds, stats, P: s.size / 2, beta });
  return stats;
}

/** out[s] = Σ_t w[s·T + t]·x[s·T + t]: x [S·T] → [S]; w known on the CPU (a mask, a one-hot). */
export function segmentSum<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  w: ArrayLike<number>,
  S: number,
  T: number,
  name: string,
): Tensor<S> {
  check(
    x.size === S * T && w.length === S * T,
    () => `${name}: [${x.shape}] and ${w.length} weights for ${S}×${T}`,
  );
  const y = tp.tensor([S], tp.needsGrad(x), name);
  const wd = constant(tp, w, `${name}.w`);
  tp.be.segSum({ out: y.store, x: x.store, w: wd, S, T });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const t = tp.gradTarget(x);
      tp.be.segSumBackward({ dx: t.buf, w: wd, dOut: dy, S, T, accumulate: t.accumulate });
      tp.wrote(x);
    });
  }
  return y;
}
