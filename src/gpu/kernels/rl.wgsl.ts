// WGSL for the RLHF losses (PPO, GRPO, DPO, reward models): per-token log-probabilities with entropy and
// the log-sum-exp the backward reuses; that backward, which takes a per-token weight from a GPU buffer
// (so a loss computed on the device feeds it without a read); the clipped policy loss (PPO, GRPO with
// its k3 KL to the reference), the clipped value loss, the pairwise sigmoid loss (DPO, Bradley–Terry) and
// a weighted per-sequence sum. The loss kernels run as one workgroup: the token counts of an RL minibatch
// are small, and a single workgroup gives every sum a fixed order (bitwise-repeatable, no atomics).
// Bindings come from bindings.ts's planner.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export const RL_WG = 256;

/**
 * Row r (one workgroup per row, folded into y), with m = max x, s = Σ e^{x−m}, u = Σ e^{x−m}(x−m):
 * logp[r] = x[t] − m − log s (0 when t is outside [0, V)), ent[r] = log s − u/s (the softmax's entropy),
 * lse[r] = m + log s. One read of the row: (m, s, u) are merged online, rescaling on a new max.
 */
export const tokenLogprobsWgsl = (L: KernelLayout) => {
  const { logits, targets, logp, ent, lse } = L.id;
  return `
struct P { N: u32, V: u32 };
${L.decls('P')}
var<workgroup> wm: array<f32, ${RL_WG}>;
var<workgroup> ws: array<f32, ${RL_WG}>;
var<workgroup> wu: array<f32, ${RL_WG}>;
const NEG_BIG = -3.0e38;
@compute @workgroup_size(${RL_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.N) { return; }
  let base = row * p.V;
  var m = NEG_BIG;
  var s = 0.0;
  var u = 0.0;
  for (var j = lid.x; j < p.V; j += ${RL_WG}u) {
    let x = ${logits}[base + j];
    if (x > m) {
      let a = exp(m - x);
      u = a * (u + s * (m - x));
      s = s * a + 1.0;
      m = x;
    } else {
      let e = exp(x - m);
      s += e;
      u += e * (x - m);
    }
  }
  wm[lid.x] = m;
  ws[lid.x] = s;
  wu[lid.x] = u;
  workgroupBarrier();
  for (var k = ${RL_WG / 2}u; k > 0u; k >>= 1u) {
    if (lid.x < k) {
      let m1 = wm[lid.x];
      let m2 = wm[lid.x + k];
      let mm = max(m1, m2);
      let a1 = exp(m1 - mm);
      let a2 = exp(m2 - mm);
      wu[lid.x] = a1 * (wu[lid.x] + ws[lid.x] * (m1 - mm)) + a2 * (wu[lid.x + k] + ws[lid.x + k] * (m2 - mm));
      ws[lid.x] = ws[lid.x] * a1 + ws[lid.x + k] * a2;
      wm[lid.x] = mm;
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let t = ${targets}[row];
    let valid = t >= 0 && u32(t) < p.V;
    let ls = log(ws[0]);
    var lp = 0.0;
    if (valid) { lp = (${logits}[base + u32(t)] - wm[0]) - ls; }
    ${logp}[row] = lp;
    ${ent}[row] = ls - wu[0] / ws[0];
    ${lse}[row] = wm[0] + ls;
  }
}`;
};

/** d[r, j] (+)= g[r]·([j = t_r] − e^{x[r,j] − lse[r]}); rows with t outside [0, V) get 0 (or are left as is). */
export const logprobBackwardWgsl = (L: KernelLayout) => {
  const { logits, targets, lse, g, d } = L.id;
  return `
struct P { n: u32, V: u32, acc: u32 };
${L.decls('P')}
@compute @workgroup_size(${RL_WG})
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX(RL_WG)};
  if (i >= p.n) { return; }
  let r = i / p.V;
  let j = i % p.V;
  let t = ${targets}[r];
  let valid = t >= 0 && u32(t) < p.V;
  let onehot = select(0.0, 1.0, valid && j == u32(t));
  let v = select(0.0, ${g}[r] * (onehot - exp(${logits}[i] - ${lse}[r])), valid);
  if (p.acc != 0u) { ${d}[i] = ${d}[i] + v; } else { ${d}[i] = v; }
}`;
};

/** Workgroup tree reduction of K per-thread partial sums into out[0..K) (fixed order). */
function reduceTail(K: number, out: string): string {
  return `
  for (var q = 0u; q < ${K}u; q++) { red[q * ${RL_WG}u + lid.x] = acc[q]; }
  workgroupBarrier();
  for (var k = ${RL_WG / 2}u; k > 0u; k >>= 1u) {
    if (lid.x < k) {
      for (var q = 0u; q < ${K}u; q++) { red[q * ${RL_WG}u + lid.x] += red[q * ${RL_WG}u + lid.x + k]; }
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) { for (var q = 0u; q < ${K}u; q++) { ${out}[q] = red[q * ${RL_WG}u]; } }`;
}

/** Statistics the policy loss writes, in order (each a weighted sum Σ w·x). */
export const POLICY_STATS = ['loss', 'pg', 'kl', 'clipfrac', 'approxkl', 'ratio'] as const;

/**
 * Clipped policy loss over N tokens; data = [old | ref | adv | w], each N. Per token with w ≠ 0:
 * ρ = e^{lp − old}, pg = max(−A·ρ, −A·clamp(ρ, 1 − εlow, 1 + εhigh)), k3 = e^{ref − lp} − (ref − lp) − 1,
 * loss = pg + β·k3, g = w·(∂pg/∂lp + β·(1 − e^{ref − lp})) with ∂pg/∂lp = −A·ρ unless the clipped term
 * is the larger (then 0). stats = Σ w·(loss, pg, k3, [clipped], ½(lp − old)², ρ).
 */
export const policyLossWgsl = (L: KernelLayout) => {
  const { logp, data, g, stats } = L.id;
  const K = POLICY_STATS.length;
  return `
struct P { N: u32, clipLow: f32, clipHigh: f32, beta: f32 };
${L.decls('P')}
var<workgroup> red: array<f32, ${K * RL_WG}>;
@compute @workgroup_size(${RL_WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var acc: array<f32, ${K}>;
  for (var q = 0u; q < ${K}u; q++) { acc[q] = 0.0; }
  for (var i = lid.x; i < p.N; i += ${RL_WG}u) {
    let w = ${data}[3u * p.N + i];
    if (w == 0.0) { ${g}[i] = 0.0; continue; }
    let lp = ${logp}[i];
    let dlt = lp - ${data}[i];
    let ratio = exp(dlt);
    let a = ${data}[2u * p.N + i];
    let l1 = -a * ratio;
    let l2 = -a * clamp(ratio, 1.0 - p.clipLow, 1.0 + p.clipHigh);
    let clipped = l2 > l1;
    let pg = max(l1, l2);
    let lr = ${data}[p.N + i] - lp;
    let er = exp(lr);
    let kl = er - lr - 1.0;
    let dpg = select(-a * ratio, 0.0, clipped);
    ${g}[i] = w * (dpg + p.beta * (1.0 - er));
    acc[0] += w * (pg + p.beta * kl);
    acc[1] += w * pg;
    acc[2] += w * kl;
    acc[3] += select(0.0, w, clipped);
    acc[4] += w * 0.5 * dlt * dlt;
    acc[5] += w * ratio;
  }${reduceTail(K, stats)}
}`;
};

export const VALUE_STATS = ['loss', 'clipfrac', 'vpred'] as const;

/**
 * Clipped value loss; data = [old | ret | w]. vc = old + clamp(v − old, −c, c),
 * loss = ½·max((v − ret)², (vc − ret)²); g = w·(v − ret) unless the clipped error is the larger (then 0).
 * stats = Σ w·(loss, [clipped], v).
 */
export const valueLossWgsl = (L: KernelLayout) => {
  const { v, data, g, stats } = L.id;
  const K = VALUE_STATS.length;
  return `
struct P { N: u32, clip: f32 };
${L.decls('P')}
var<workgroup> red: array<f32, ${K * RL_WG}>;
@compute @workgroup_size(${RL_WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var acc: array<f32, ${K}>;
  for (var q = 0u; q < ${K}u; q++) { acc[q] = 0.0; }
  for (var i = lid.x; i < p.N; i += ${RL_WG}u) {
    let w = ${data}[2u * p.N + i];
    if (w == 0.0) { ${g}[i] = 0.0; continue; }
    let x = ${v}[i];
    let old = ${data}[i];
    let ret = ${data}[p.N + i];
    let vc = old + clamp(x - old, -p.clip, p.clip);
    let e1 = (x - ret) * (x - ret);
    let e2 = (vc - ret) * (vc - ret);
    let clipped = e2 > e1;
    ${g}[i] = select(w * (x - ret), 0.0, clipped);
    acc[0] += w * 0.5 * max(e1, e2);
    acc[1] += select(0.0, w, clipped);
    acc[2] += w * x;
  }${reduceTail(K, stats)}
}`;
};

export const PAIR_STATS = ['loss', 'accuracy', 'chosen', 'rejected', 'margin'] as const;

/**
 * Pairwise sigmoid loss over P pairs of scores s = [c0, r0, c1, r1, …] with references ref (same layout):
 * z = β·((c − refc) − (r − refr)), loss = mean softplus(−z); ds_c = −β·σ(−z)/P, ds_r = +β·σ(−z)/P.
 * stats = mean of (loss, [z > 0], β(c − refc), β(r − refr), z).
 */
export const pairLossWgsl = (L: KernelLayout) => {
  const { s, sref: ref, ds, stats } = L.id;
  const K = PAIR_STATS.length;
  return `
struct P { P: u32, beta: f32 };
${L.decls('P')}
var<workgroup> red: array<f32, ${K * RL_WG}>;
@compute @workgroup_size(${RL_WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var acc: array<f32, ${K}>;
  for (var q = 0u; q < ${K}u; q++) { acc[q] = 0.0; }
  let inv = 1.0 / f32(p.P);
  for (var i = lid.x; i < p.P; i += ${RL_WG}u) {
    let rc = p.beta * (${s}[2u * i] - ${ref}[2u * i]);
    let rr = p.beta * (${s}[2u * i + 1u] - ${ref}[2u * i + 1u]);
    let z = rc - rr;
    // softplus(−z) = max(−z, 0) + log(1 + e^{−|z|}); σ(−z) from e^{−|z|} without overflow.
    let e = exp(-abs(z));
    let sp = max(-z, 0.0) + log(1.0 + e);
    let sig = select(e / (1.0 + e), 1.0 / (1.0 + e), z < 0.0);
    ${ds}[2u * i] = -p.beta * sig * inv;
    ${ds}[2u * i + 1u] = p.beta * sig * inv;
    acc[0] += sp * inv;
    acc[1] += select(0.0, inv, z > 0.0);
    acc[2] += rc * inv;
    acc[3] += rr * inv;
    acc[4] += z * inv;
  }${reduceTail(K, stats)}
}`;
};

/** out[s] = Σ_t w[s·T + t]·x[s·T + t], one thread per sequence summing in t order. */
export const segSumWgsl = (L: KernelLayout) => {
  const { x, w, out } = L.id;
  return `
struct P { S: u32, T: u32 };
${L.decls('P')}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let s = gid.x;
  if (s >= p.S) { return; }
  var acc = 0.0;
  for (var t = 0u; t < p.T; t++) { acc += ${w}[s * p.T + t] * ${x}[s * p.T + t]; }
  ${out}[s] = acc;
}`;
};

/** dx[i] (+)= w[i]·dOut[i / T]. */
export const segSumBackwardWgsl = (L: KernelLayout) => {
  const { w, dOut, dx } = L.id;
  return `
struct P { n: u32, T: u32, acc: u32 };
${L.decls('P')}
@compute @workgroup_size(${RL_WG})
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX(RL_WG)};
  if (i >= p.n) { return; }
  let v = ${w}[i] * ${dOut}[i / p.T];
  if (p.acc != 0u) { ${dx}[i] = ${dx}[i] + v; } else { ${dx}[i] = v; }
}`;
};
