// Dispatch for the RLHF kernels (rl.wgsl.ts): per-token log-probabilities (+ entropy, + the lse their
// backward reuses), that backward with per-token weights read from a GPU buffer, the clipped policy and
// value losses and the pairwise sigmoid loss (each writing its input's gradient in the same pass, like the
// fused cross-entropy), and a weighted per-sequence sum with its backward.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import {
  logprobBackwardWgsl,
  pairLossWgsl,
  policyLossWgsl,
  RL_WG,
  segSumBackwardWgsl,
  segSumWgsl,
  tokenLogprobsWgsl,
  valueLossWgsl,
} from './rl.wgsl';

export interface TokenLogprobsArgs<S = GpuRegion, I = S> {
  logp: S;
  ent: S;
  lse: S;
  logits: S;
  targets: I;
  N: number;
  V: number;
}

/** logp[r] = log softmax(logits_r)[t_r] (0 if t_r ∉ [0, V)), ent[r] = entropy of softmax(logits_r), lse[r]. */
export function tokenLogprobs(ctx: GpuContext, a: TokenLogprobsArgs): void {
  const L = planBindings('rl_token_logprobs', [
    { name: 'logits', region: a.logits, write: false },
    { name: 'targets', region: a.targets, write: false, type: 'array<i32>' },
    { name: 'logp', region: a.logp, write: true },
    { name: 'ent', region: a.ent, write: true },
    { name: 'lse', region: a.lse, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`rl_token_logprobs:${L.sig}`, 'rl_token_logprobs', () => tokenLogprobsWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(a.N).u32(a.V).data,
    workgroups: grid1d(a.N, 1),
  });
}

export interface LogprobBackwardArgs<S = GpuRegion, I = S> {
  dLogits: S;
  logits: S;
  targets: I;
  lse: S;
  g: S;
  N: number;
  V: number;
  accumulate?: boolean;
}

/** dLogits[r, j] (+)= g[r]·(onehot(t_r) − softmax(logits_r)); g is a GPU buffer (a loss kernel's output). */
export function logprobBackward(ctx: GpuContext, a: LogprobBackwardArgs): void {
  const n = a.N * a.V;
  const L = planBindings('rl_logprob_backward', [
    { name: 'logits', region: a.logits, write: false },
    { name: 'targets', region: a.targets, write: false, type: 'array<i32>' },
    { name: 'lse', region: a.lse, write: false },
    { name: 'g', region: a.g, write: false },
    { name: 'd', region: a.dLogits, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`rl_logprob_backward:${L.sig}`, 'rl_logprob_backward', () => logprobBackwardWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(n)
      .u32(a.V)
      .u32(a.accumulate ? 1 : 0).data,
    workgroups: grid1d(n, RL_WG),
  });
}

export interface PolicyLossArgs<S = GpuRegion> {
  logp: S;
  data: S;
  g: S;
  stats: S;
  N: number;
  clipLow: number;
  clipHigh: number;
  beta: number;
}

/** Clipped policy loss (PPO; GRPO with beta > 0): data = [old | ref | adv | w] (4N); g = ∂/∂logp; stats [6]. */
export function policyLoss(ctx: GpuContext, a: PolicyLossArgs): void {
  const L = planBindings('rl_policy_loss', [
    { name: 'logp', region: a.logp, write: false },
    { name: 'data', region: a.data, write: false },
    { name: 'g', region: a.g, write: true },
    { name: 'stats', region: a.stats, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`rl_policy_loss:${L.sig}`, 'rl_policy_loss', () => policyLossWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(a.N).f32(a.clipLow).f32(a.clipHigh).f32(a.beta).data,
    workgroups: [1],
  });
}

export interface ValueLossArgs<S = GpuRegion> {
  v: S;
  data: S;
  g: S;
  stats: S;
  N: number;
  clip: number;
}

/** Clipped value loss: data = [old | ret | w] (3N); g = ∂/∂v; stats [3]. */
export function valueLoss(ctx: GpuContext, a: ValueLossArgs): void {
  const L = planBindings('rl_value_loss', [
    { name: 'v', region: a.v, write: false },
    { name: 'data', region: a.data, write: false },
    { name: 'g', region: a.g, write: true },
    { name: 'stats', region: a.stats, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`rl_value_loss:${L.sig}`, 'rl_value_loss', () => valueLossWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(a.N).f32(a.clip).data,
    workgroups: [1],
  });
}

export interface PairLossArgs<S = GpuRegion> {
  s: S;
  ref: S;
  ds: S;
  stats: S;
  P: number;
  beta: number;
}

/** Pairwise sigmoid loss over s = [c0, r0, c1, r1, …] against ref; ds = ∂(mean loss)/∂s; stats [5]. */
export function pairLoss(ctx: GpuContext, a: PairLossArgs): void {
  const L = planBindings('rl_pair_loss', [
    { name: 's', region: a.s, write: false },
    { name: 'sref', region: a.ref, write: false },
    { name: 'ds', region: a.ds, write: true },
    { name: 'stats', region: a.stats, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`rl_pair_loss:${L.sig}`, 'rl_pair_loss', () => pairLossWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(a.P).f32(a.beta).data,
    workgroups: [1],
  });
}

export interface SegSumArgs<S = GpuRegion> {
  out: S;
  x: S;
  w: S;
  S: number;
  T: number;
}

/** out[s] = Σ_t w[s·T + t]·x[s·T + t] for s < S. */
export function segSum(ctx: GpuContext, a: SegSumArgs): void {
  const L = planBindings('rl_seg_sum', [
    { name: 'x', region: a.x, write: false },
    { name: 'w', region: a.w, write: false },
    { name: 'out', region: a.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`rl_seg_sum:${L.sig}`, 'rl_seg_sum', () => segSumWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(a.S).u32(a.T).data,
    workgroups: [Math.ceil(a.S / 64)],
  });
}

export interface SegSumBackwardArgs<S = GpuRegion> {
  dx: S;
  w: S;
  dOut: S;
  S: number;
  T: number;
  accumulate?: boolean;
}

/** dx[i] (+)= w[i]·dOut[⌊i / T⌋] for i < S·T. */
export function segSumBackward(ctx: GpuContext, a: SegSumBackwardArgs): void {
  const n = a.S * a.T;
  const L = planBindings('rl_seg_sum_backward', [
    { name: 'w', region: a.w, write: false },
    { name: 'dOut', region: a.dOut, write: false },
    { name: 'dx', region: a.dx, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`rl_seg_sum_backward:${L.sig}`, 'rl_seg_sum_backward', () => segSumBackwardWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(n)
      .u32(a.T)
      .u32(a.accumulate ? 1 : 0).data,
    workgroups: grid1d(n, RL_WG),
  });
}
