// CPU float64 twins of the standalone activations (activation.ts): ReLU, SiLU, exact GELU, and their
// derivatives. erf is computed to near double precision (series, then a continued fraction for the tail),
// so central differences of the twin check its derivative without approximation noise.

import type { ActivationArgs, ActivationBackwardArgs } from './activation';
import type { ActivationKind } from './activation.wgsl';
import { putInto } from './common';

/** erfc(x) for x ≥ 0, to ~1e-15 relative. */
function erfcPos(x: number): number {
  if (x < 3) {
    // erf by its Maclaurin series; terms peak near e^{x²} < 1e4, so at most ~4 digits are lost.
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated bottom-up.
  let f = x;
  for (let k = 60; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  const t = 0.5 * erfcPos(Math.abs(x) / Math.SQRT2);
  return x >= 0 ? 1 - t : t;
}

const pdf = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
const sig = (x: number) => 1 / (1 + Math.exp(-x));

export function activationValue(kind: ActivationKind, v: number): number {
  if (kind === 'relu') return Math.max(v, 0);
  if (kind === 'silu') return v * sig(v);
  return v * normalCdf(v);
}

export function activationDeriv(kind: ActivationKind, v: number): number {
  if (kind === 'relu') return v > 0 ? 1 : 0;
  if (kind === 'silu') return sig(v) * (1 + v * (1 - sig(v)));
  return normalCdf(v) + v * pdf(v);
}

export function activationRef(kind: ActivationKind, x: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => activationValue(kind, x[i]));
}

export function activationBackwardRef(
  kind: ActivationKind,
  dOut: ArrayLike<number>,
  x: ArrayLike<number>,
): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => dOut[i] * activationDeriv(kind, x[i]));
}

/** The twin of activation(): out = f(x) over the first n elements. */
export function activationTwin(p: ActivationArgs<Float64Array>): void {
  putInto(p.out, activationRef(p.kind, p.x.subarray(0, p.n)));
}

/** The twin of activationBackward(): dx (+)= dOut·f'(x). */
export function activationBackwardTwin(p: ActivationBackwardArgs<Float64Array>): void {
  putInto(p.dx, activationBackwardRef(p.kind, p.dOut.subarray(0, p.n), p.x.subarray(0, p.n)), p.accumulate);
}
