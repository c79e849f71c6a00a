// CPU float64 twin of causal multi-head attention with grouped KV heads and an optional key/value prefix
// (attention.ts). Naive on purpose: it builds each query's score row explicitly and softmaxes it, so it
// shares no trick (online softmax, lse recomputation) with the GPU kernels it checks. Layouts as there:
// q [B,T,Hq·D], k/v [B,S,Hkv·D], prefixK/V [P,Hkv·D], out [B,T,Hq·D], lse [B,Hq,T]. The forward also takes the
// KV-cache arguments: k/v rows at batch stride kvStride (k/v [B,kvStride,Hkv·D]) and kvStart[b], item b's first
// visible real key; a query that sees no key gets out = 0 (its lse is −∞). Packed rows (forward and backward):
// `segments` [B,S], one id per key position; query t (key position t + S − T) sees a real key only when their
// ids are equal or the key's id is negative (shared by every segment); prefix keys are seen by all.
import type { AttentionArgs, AttentionBackwardArgs, AttentionDims } from './attention';
import { putInto } from './common';

export interface AttentionGradsRef {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
  dPrefixK?: Float64Array;
  dPrefixV?: Float64Array;
}

interface Plan {
  B: number;
  T: number;
  S: number;
  Hq: number;
  Hkv: number;
  D: number;
  P: number;
  G: number;
  scale: number;
  kvStride: number;
  kvStart: ArrayLike<number> | null;
  segments: ArrayLike<number> | null;
}

function plan(
  dims: AttentionDims,
  kvStart: ArrayLike<number> | null = null,
  segments: ArrayLike<number> | null = null,
): Plan {
  if (segments && segments.length < dims.B * dims.S)
    throw new Error(`attentionRef: ${segments.length} segment ids, need B·S = ${dims.B * dims.S}`);
  if (segments && (kvStart || (dims.kvStride ?? dims.S) !== dims.S))
    throw new Error('attentionRef: segments cannot be combined with a KV cache read (kvStart, kvStride)');
  const P = dims.P ?? 0;
  return {
    ...dims,
    P,
    G: dims.Hq / dims.Hkv,
    scale: dims.scale ?? 1 / Math.sqrt(dims.D),
    kvStride: dims.kvStride ?? dims.S,
    kvStart,
    segments,
  };
}

/** Offsets (into either the prefix or the real k/v arrays) of every key query (b, t) sees, prefix first. */
function visibleKeys(pl: Plan, b: number, t: number, kh: number): Array<{ prefix: boolean; off: number }> {
  const { S, T, Hkv, D, P, kvStride } = pl;
  const keys: Array<{ prefix: boolean; off: number }> = [];
  for (let p = 0; p < P; p++) keys.push({ prefix: true, off: (p * Hkv + kh) * D });
  // Query t sits at position t + S − T among the real keys (S − T earlier positions are cached).
  const last = t + S - T;
  const first = pl.kvStart ? pl.kvStart[b] : 0;
  const seg = pl.segments;
  for (let j = first; j <= last; j++) {
    if (seg && seg[b * S + j] >= 0 && seg[b * S + j] !== seg[b * S + last]) continue;
    keys.push({ prefix: false, off: ((b * kvStride + j) * Hkv + kh) * D });
  }
  return keys;
}

/** Forward: out = softmax(scale·q·kᵀ + causal mask)·v per head; lse = log Σ exp(scale·q·k). */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: AttentionDims,
  prefixK?: ArrayLike<number> | null,
  prefixV?: ArrayLike<number> | null,
  kvStart?: ArrayLike<number> | null,
  segments?: ArrayLike<number> | null,
): { out: Float64Array; lse: Float64Array } {
  const pl = plan(dims, kvStart ?? null, segments ?? null);
  const { B, T, Hq, D, G, scale } = pl;
  const out = new Float64Array(B * T * Hq * D);
  const lse = new Float64Array(B * Hq * T);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * Hq + h) * D;
        const keys = visibleKeys(pl, b, t, kh);
        const s = keys.map(({ prefix, off }) => {
          const kk = prefix ? prefixK! : k;
          let acc = 0;
          for (let d = 0; d < D; d++) acc += q[qo + d] * kk[off + d];
          return scale * acc;
        });
        const m = Math.max(...s);
        let sum = 0;
        for (const x of s) sum += Math.exp(x - m);
        lse[(b * Hq + h) * T + t] = m + Math.log(sum);
        keys.forEach(({ prefix, off }, i) => {
          const vv = prefix ? prefixV! : v;
          const p = Math.exp(s[i] - m) / sum;
          for (let d = 0; d < D; d++) out[qo + d] += p * vv[off + d];
        });
      }
    }
  return { out, lse };
}

/**
 * Backward of attentionRef given dOut: the textbook softmax Jacobian on explicit probabilities,
 * dS = P ⊙ (dP − rowsum(P ⊙ dP)). dk/dv sum over the G query heads of a group; prefix grads over the
 * batch as well. Prefix grads are present only when a prefix was given.
 */
export function attentionBackwardRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dOut: ArrayLike<number>,
  dims: AttentionDims,
  prefixK?: ArrayLike<number> | null,
  prefixV?: ArrayLike<number> | null,
  segments?: ArrayLike<number> | null,
): AttentionGradsRef {
  const pl = plan(dims, null, segments ?? null);
  const { B, T, S, Hq, Hkv, D, P, G, scale } = pl;
  if (pl.kvStride !== S)
    throw new Error(`attentionBackwardRef: kvStride ${pl.kvStride} ≠ S ${S} is forward-only`);
  const dq = new Float64Array(B * T * Hq * D);
  const dk = new Float64Array(B * S * Hkv * D);
  const dv = new Float64Array(B * S * Hkv * D);
  const hasPrefix = P > 0 && !!prefixK && !!prefixV;
  const dPrefixK = hasPrefix ? new Float64Array(P * Hkv * D) : undefined;
  const dPrefixV = hasPrefix ? new Float64Array(P * Hkv * D) : undefined;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / G);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * Hq + h) * D;
        const keys = visibleKeys(pl, b, t, kh);
        const s = keys.map(({ prefix, off }) => {
          const kk = prefix ? prefixK! : k;
          let acc = 0;
          for (let d = 0; d < D; d++) acc += q[qo + d] * kk[off + d];
          return scale * acc;
        });
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const sum = e.reduce((a, x) => a + x, 0);
        const p = e.map((x) => x / sum);
        const dp = keys.map(({ prefix, off }) => {
          const vv = prefix ? prefixV! : v;
          let acc = 0;
          for (let d = 0; d < D; d++) acc += dOut[qo + d] * vv[off + d];
          return acc;
        });
        let pdp = 0;
        for (let i = 0; i < keys.length; i++) pdp += p[i] * dp[i];
        keys.forEach(({ prefix, off }, i) => {
          const kk = prefix ? prefixK! : k;
          const gk = prefix ? dPrefixK! : dk;
          const gv = prefix ? dPrefixV! : dv;
          const ds = p[i] * (dp[i] - pdp);
          for (let d = 0; d < D; d++) {
            dq[qo + d] += scale * ds * kk[off + d];
            gk[off + d] += scale * ds * q[qo + d];
            gv[off + d] += p[i] * dOut[qo + d];
          }
        });
      }
    }
  return hasPrefix ? { dq, dk, dv, dPrefixK, dPrefixV } : { dq, dk, dv };
}

/** The twin of attention(): writes out and lse. */
export function attentionTwin(p: AttentionArgs<Float64Array, Int32Array>): void {
  const r = attentionRef(p.q, p.k, p.v, p, p.prefixK, p.prefixV, p.kvStart, p.segments);
  putInto(p.out, r.out);
  putInto(p.lse, r.lse);
}

/** The twin of attentionBackward(): overwrites each non-null gradient. */
export function attentionBackwardTwin(p: AttentionBackwardArgs<Float64Array, Int32Array>): void {
  const r = attentionBackwardRef(p.q, p.k, p.v, p.dOut, p, p.prefixK, p.prefixV, p.segments);
  if (p.dq) putInto(p.dq, r.dq);
  if (p.dk) putInto(p.dk, r.dk);
  if (p.dv) putInto(p.dv, r.dv);
  if (p.dPrefixK && r.dPrefixK) putInto(p.dPrefixK, r.dPrefixK);
  if (p.dPrefixV && r.dPrefixV) putInto(p.dPrefixV, r.dPrefixV);
}
