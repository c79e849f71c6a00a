// Random inputs for the attention kernel tests (plain and segment-masked): q, k, v, the optional prefix
// keys/values and an upstream gradient, each from its own seed so a case is reproducible.
import type { AttentionDims } from '../../src/gpu/kernels/attention';
import { randn } from './numeric';

export interface AttentionInputs {
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  pk: Float64Array | null;
  pv: Float64Array | null;
  dOut: Float64Array;
}

export function attentionInputs(d: AttentionDims, seed: number): AttentionInputs {
  const P = d.P ?? 0;
  const kvLen = d.B * d.S * d.Hkv * d.D;
  return {
    q: randn(d.B * d.T * d.Hq * d.D, seed),
    k: randn(kvLen, seed + 1),
    v: randn(kvLen, seed + 2),
    pk: P ? randn(P * d.Hkv * d.D, seed + 3) : null,
    pv: P ? randn(P * d.Hkv * d.D, seed + 4) : null,
    dOut: randn(d.B * d.T * d.Hq * d.D, seed + 5),
  };
}
