// CPU float64 twins of SwiGLU (swiglu.ts): out = silu(gate)·up, elementwise, and its gradients.

import { putInto } from './common';
import type { SwigluArgs, SwigluBackwardArgs } from './swiglu';

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));

export function swigluRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  const out = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
  return out;
}

export interface SwigluGradsRef {
  dGate: Float64Array;
  dUp: Float64Array;
}

/** Gradients of Σ dOut·silu(gate)·up with respect to gate and up. */
export function swigluBackwardRef(
  dOut: ArrayLike<number>,
  gate: ArrayLike<number>,
  up: ArrayLike<number>,
): SwigluGradsRef {
  const n = gate.length;
  const dGate = new Float64Array(n);
  const dUp = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const s = sigmoid(g);
    dUp[i] = dOut[i] * g * s;
    dGate[i] = dOut[i] * up[i] * s * (1 + g * (1 - s));
  }
  return { dGate, dUp };
}

/** The twin of swiglu(). */
export function swigluTwin(p: SwigluArgs<Float64Array>): void {
  putInto(p.out, swigluRef(p.gate.subarray(0, p.n), p.up.subarray(0, p.n)));
}

/** The twin of swigluBackward(); a null gradient is skipped. */
export function swigluBackwardTwin(p: SwigluBackwardArgs<Float64Array>): void {
  const r = swigluBackwardRef(p.dOut.subarray(0, p.n), p.gate.subarray(0, p.n), p.up.subarray(0, p.n));
  if (p.dGate) putInto(p.dGate, r.dGate);
  if (p.dUp) putInto(p.dUp, r.dUp);
}
