// CPU float64 twins of rl.ts: the same formulas, the CPU backend's primitives for the RL ops, and the
// references the tests hold the GPU to. Targets outside [0, V) are ignored, as on the GPU.

import { putInto } from './common';
import type {
  LogprobBackwardArgs,
  PairLossArgs,
  PolicyLossArgs,
  SegSumArgs,
  SegSumBackwardArgs,
  TokenLogprobsArgs,
  ValueLossArgs,
} from './rl';

const ignored = (t: number, V: number): boolean => !(t >= 0 && t < V);

export function tokenLogprobsRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  N: number,
  V: number,
): { logp: Float64Array; ent: Float64Array; lse: Float64Array } {
  const logp = new Float64Array(N);
  const ent = new Float64Array(N);
  const lse = new Float64Array(N);
  for (let r = 0; r < N; r++) {
    const b = r * V;
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < V; j++) m = Math.max(m, logits[b + j]);
    let s = 0;
    let u = 0;
    for (let j = 0; j < V; j++) {
      const e = Math.exp(logits[b + j] - m);
      s += e;
      u += e * (logits[b + j] - m);
    }
    lse[r] = m + Math.log(s);
    ent[r] = Math.log(s) - u / s;
    const t = targets[r];
    if (!ignored(t, V)) logp[r] = logits[b + t] - lse[r];
  }
  return { logp, ent, lse };
}

/** d[r, j] = g[r]·(onehot − softmax), 0 for ignored rows. */
export function logprobBackwardRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  lse: ArrayLike<number>,
  g: ArrayLike<number>,
  N: number,
  V: number,
): Float64Array {
  const d = new Float64Array(N * V);
  for (let r = 0; r < N; r++) {
    const t = targets[r];
    if (ignored(t, V)) continue;
    for (let j = 0; j < V; j++)
      d[r * V + j] = g[r] * ((j === t ? 1 : 0) - Math.exp(logits[r * V + j] - lse[r]));
  }
  return d;
}

export type PolicyLossParams = Pick<PolicyLossArgs, 'clipLow' | 'clipHigh' | 'beta'>;

/** data = [old | ref | adv | w]; see policyLossWgsl. stats = Σ w·(loss, pg, k3, clipped, ½δ², ρ). */
export function policyLossRef(
  logp: ArrayLike<number>,
  data: ArrayLike<number>,
  N: number,
  p: PolicyLossParams,
): { g: Float64Array; stats: Float64Array } {
  const g = new Float64Array(N);
  const stats = new Float64Array(6);
  for (let i = 0; i < N; i++) {
    const w = data[3 * N + i];
    if (w === 0) continue;
    const dlt = logp[i] - data[i];
    const ratio = Math.exp(dlt);
    const a = data[2 * N + i];
    const l1 = -a * ratio;
    const l2 = -a * Math.min(Math.max(ratio, 1 - p.clipLow), 1 + p.clipHigh);
    const clipped = l2 > l1;
    const pg = Math.max(l1, l2);
    const lr = data[N + i] - logp[i];
    const er = Math.exp(lr);
    const kl = er - lr - 1;
    g[i] = w * ((clipped ? 0 : -a * ratio) + p.beta * (1 - er));
    stats[0] += w * (pg + p.beta * kl);
    stats[1] += w * pg;
    stats[2] += w * kl;
    stats[3] += clipped ? w : 0;
    stats[4] += w * 0.5 * dlt * dlt;
    stats[5] += w * ratio;
  }
  return { g, stats };
}

/** data = [old | ret | w]; see valueLossWgsl. stats = Σ w·(loss, clipped, v). */
export function valueLossRef(
  v: ArrayLike<number>,
  data: ArrayLike<number>,
  N: number,
  clip: number,
): { g: Float64Array; stats: Float64Array } {
  const g = new Float64Array(N);
  const stats = new Float64Array(3);
  for (let i = 0; i < N; i++) {
    const w = data[2 * N + i];
    if (w === 0) continue;
    const old = data[i];
    const ret = data[N + i];
    const vc = old + Math.min(Math.max(v[i] - old, -clip), clip);
    const e1 = (v[i] - ret) ** 2;
    const e2 = (vc - ret) ** 2;
    const clipped = e2 > e1;
    g[i] = clipped ? 0 : w * (v[i] - ret);
    stats[0] += w * 0.5 * Math.max(e1, e2);
    stats[1] += clipped ? w : 0;
    stats[2] += w * v[i];
  }
  return { g, stats };
}

/** s, ref = [c0, r0, c1, r1, …]; see pairLossWgsl. stats = means of (loss, z > 0, βΔc, βΔr, z). */
export function pairLossRef(
  s: ArrayLike<number>,
  ref: ArrayLike<number>,
  P: number,
  beta: number,
): { ds: Float64Array; stats: Float64Array } {
  const ds = new Float64Array(2 * P);
  const stats = new Float64Array(5);
  for (let i = 0; i < P; i++) {
    const rc = beta * (s[2 * i] - ref[2 * i]);
    const rr = beta * (s[2 * i + 1] - ref[2 * i + 1]);
    const z = rc - rr;
    const sp = Math.max(-z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
    const sig = 1 / (1 + Math.exp(z));
    ds[2 * i] = (-beta * sig) / P;
    ds[2 * i + 1] = (beta * sig) / P;
    stats[0] += sp / P;
    stats[1] += z > 0 ? 1 / P : 0;
    stats[2] += rc / P;
    stats[3] += rr / P;
    stats[4] += z / P;
  }
  return { ds, stats };
}

export function segSumRef(x: ArrayLike<number>, w: ArrayLike<number>, S: number, T: number): Float64Array {
  const out = new Float64Array(S);
  for (let s = 0; s < S; s++) for (let t = 0; t < T; t++) out[s] += w[s * T + t] * x[s * T + t];
  return out;
}

export function segSumBackwardRef(
  w: ArrayLike<number>,
  dOut: ArrayLike<number>,
  S: number,
  T: number,
): Float64Array {
  const dx = new Float64Array(S * T);
  for (let i = 0; i < S * T; i++) dx[i] = w[i] * dOut[Math.floor(i / T)];
  return dx;
}

/** The twin of tokenLogprobs(). */
export function tokenLogprobsTwin(p: TokenLogprobsArgs<Float64Array, Int32Array>): void {
  const r = tokenLogprobsRef(p.logits, p.targets, p.N, p.V);
  putInto(p.logp, r.logp);
  putInto(p.ent, r.ent);
  putInto(p.lse, r.lse);
}

/** The twin of logprobBackward(). */
export function logprobBackwardTwin(p: LogprobBackwardArgs<Float64Array, Int32Array>): void {
  putInto(p.dLogits, logprobBackwardRef(p.logits, p.targets, p.lse, p.g, p.N, p.V), p.accumulate);
}

/** The twin of policyLoss(). */
export function policyLossTwin(p: PolicyLossArgs<Float64Array>): void {
  const r = policyLossRef(p.logp, p.data, p.N, p);
  putInto(p.g, r.g);
  putInto(p.stats, r.stats);
}

/** The twin of valueLoss(). */
export function valueLossTwin(p: ValueLossArgs<Float64Array>): void {
  const r = valueLossRef(p.v, p.data, p.N, p.clip);
  putInto(p.g, r.g);
  putInto(p.stats, r.stats);
}

/** The twin of pairLoss(). */
export function pairLossTwin(p: PairLossArgs<Float64Array>): void {
  const r = pairLossRef(p.s, p.ref, p.P, p.beta);
  putInto(p.ds, r.ds);
  putInto(p.stats, r.stats);
}

/** The twin of segSum(). */
export function segSumTwin(p: SegSumArgs<Float64Array>): void {
  putInto(p.out, segSumRef(p.x, p.w, p.S, p.T));
}

/** The twin of segSumBackward(). */
export function segSumBackwardTwin(p: SegSumBackwardArgs<Float64Array>): void {
  putInto(p.dx, segSumBackwardRef(p.w, p.dOut, p.S, p.T), p.accumulate);
}
