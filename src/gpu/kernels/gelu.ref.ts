// CPU float64 twins of GPT-2's "gelu_new" (tanh approximation) and its derivative (gelu.ts), elementwise.

import { putInto } from './common';
import type { GeluArgs, GeluBackwardArgs } from './gelu';

const K0 = Math.sqrt(2 / Math.PI);
const K1 = 0.044715;

/** 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) for each element. */
export function geluRef(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = 0.5 * v * (1 + Math.tanh(K0 * (v + K1 * v * v * v)));
  }
  return out;
}

/** dx = dOut·gelu'(x), elementwise (the gradient of Σ dOut·gelu(x) with respect to x). */
export function geluBackwardRef(dOut: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const t = Math.tanh(K0 * (v + K1 * v * v * v));
    dx[i] = dOut[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * K0 * (1 + 3 * K1 * v * v));
  }
  return dx;
}

/** The twin of gelu(). */
export function geluTwin(p: GeluArgs<Float64Array>): void {
  putInto(p.out, geluRef(p.x.subarray(0, p.n)));
}

/** The twin of geluBackward(). */
export function geluBackwardTwin(p: GeluBackwardArgs<Float64Array>): void {
  putInto(p.dx, geluBackwardRef(p.dOut.subarray(0, p.n), p.x.subarray(0, p.n)), p.accumulate);
}
