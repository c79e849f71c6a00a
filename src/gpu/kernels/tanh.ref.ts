// CPU float64 twins of tanh and its backward (tanh.ts), elementwise.

import { putInto } from './common';
import type { TanhArgs, TanhBackwardArgs } from './tanh';

/** tanh(x) for each element. */
export function tanhRef(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.tanh(x[i]);
  return out;
}

/** dx = dOut·(1 − y²) with y = tanh(x) the forward's output (the gradient of Σ dOut·tanh(x)). */
export function tanhBackwardRef(dOut: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) dx[i] = dOut[i] * (1 - y[i] * y[i]);
  return dx;
}

/** The twin of tanh(). */
export function tanhTwin(p: TanhArgs<Float64Array>): void {
  putInto(p.out, tanhRef(p.x.subarray(0, p.n)));
}

/** The twin of tanhBackward() (from the forward's output y). */
export function tanhBackwardTwin(p: TanhBackwardArgs<Float64Array>): void {
  putInto(p.dx, tanhBackwardRef(p.dOut.subarray(0, p.n), p.y.subarray(0, p.n)), p.accumulate);
}
