// For the attention kernel tests (plain and segment-masked): random inputs (q, k, v, the optional prefix
// keys/values and an upstream gradient, each from its own seed so a case is reproducible), and the check
// of the float64 twin's backward against central differences.
import { expect } from 'vitest';
import type { AttentionDims } from '../../src/gpu/kernels/attention';
import { attentionBackwardRef, attentionRef } from '../../src/gpu/kernels/attention.ref';
import { dot, expectGradMatches, randn } from './numeric';

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

/** The twin's dq, dk, dv (and prefix gradients) equal central differences of w·out, with or without segments. */
export function expectAttentionGradsMatch(d: AttentionDims, seg?: readonly number[]): void {
  const x = attentionInputs(d, 11);
  const w = randn(d.B * d.T * d.Hq * d.D, 99);
  const g = attentionBackwardRef(x.q, x.k, x.v, w, d, x.pk, x.pv, seg);
  const loss = (
    q: Float64Array,
    k: Float64Array,
    v: Float64Array,
    pk: Float64Array | null,
    pv: Float64Array | null,
  ) => dot(w, attentionRef(q, k, v, d, pk, pv, null, seg).out);
  expectGradMatches((q) => loss(q, x.k, x.v, x.pk, x.pv), x.q.slice(), g.dq, 'dq');
  expectGradMatches((k) => loss(x.q, k, x.v, x.pk, x.pv), x.k.slice(), g.dk, 'dk');
  expectGradMatches((v) => loss(x.q, x.k, v, x.pk, x.pv), x.v.slice(), g.dv, 'dv');
  if (x.pk && x.pv) {
    expect(g.dPrefixK && g.dPrefixV).toBeTruthy();
    expectGradMatches((pk) => loss(x.q, x.k, x.v, pk, x.pv), x.pk.slice(), g.dPrefixK!, 'dPrefixK');
    expectGradMatches((pv) => loss(x.q, x.k, x.v, x.pk, pv), x.pv.slice(), g.dPrefixV!, 'dPrefixV');
  } else {
    expect(g.dPrefixK).toBeUndefined();
  }
}
