// CPU float64 twins of the Kronecker product and its backward (kron.ts). a [a0, a1], b [b0, b1] row-major;
// out and dOut [a0·b0, a1·b1].

import { putInto } from './common';
import type { KronArgs, KronBackwardArgs, KronDims } from './kron';

/** alpha·(a ⊗ b), as [a0·b0, a1·b1] or (transOut) its transpose [a1·b1, a0·b0]. */
export function kronRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  d: KronDims,
  transOut = false,
): Float64Array {
  const R = d.a0 * d.b0;
  const C = d.a1 * d.b1;
  const out = new Float64Array(R * C);
  for (let p = 0; p < d.a0; p++)
    for (let q = 0; q < d.a1; q++)
      for (let k = 0; k < d.b0; k++)
        for (let l = 0; l < d.b1; l++) {
          const r = p * d.b0 + k;
          const c = q * d.b1 + l;
          out[transOut ? c * R + r : r * C + c] = d.alpha * a[p * d.a1 + q] * b[k * d.b1 + l];
        }
  return out;
}

/** Gradients of Σ dOut·kron(a, b) with respect to a and b. */
export function kronBackwardRef(
  dOut: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  d: KronDims,
): { da: Float64Array; db: Float64Array } {
  const C = d.a1 * d.b1;
  const da = new Float64Array(d.a0 * d.a1);
  const db = new Float64Array(d.b0 * d.b1);
  for (let p = 0; p < d.a0; p++)
    for (let q = 0; q < d.a1; q++)
      for (let k = 0; k < d.b0; k++)
        for (let l = 0; l < d.b1; l++) {
          const g = d.alpha * dOut[(p * d.b0 + k) * C + q * d.b1 + l];
          da[p * d.a1 + q] += g * b[k * d.b1 + l];
          db[k * d.b1 + l] += g * a[p * d.a1 + q];
        }
  return { da, db };
}

/** The twin of kron(). */
export function kronTwin(p: KronArgs<Float64Array>): void {
  putInto(p.out, kronRef(p.a, p.b, p, p.transOut ?? false), p.accumulate);
}

/** The twin of kronBackward(); a null gradient is skipped. */
export function kronBackwardTwin(p: KronBackwardArgs<Float64Array>): void {
  const r = kronBackwardRef(p.dOut, p.a, p.b, p);
  if (p.da) putInto(p.da, r.da, p.accumulateDa);
  if (p.db) putInto(p.db, r.db, p.accumulateDb);
}
