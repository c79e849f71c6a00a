// CPU float64 twin of rotary position embedding (rope.ts), HF rotate_half layout over x [B, T, H, D]:
// for pair j < D/2 at position p, angle p·theta^(−2j/D); out[j] = x[j]·cos − x[j+D/2]·sin,
// out[j+D/2] = x[j+D/2]·cos + x[j]·sin. Angles here are exact float64 (the GPU forms them in f32, as HF).

import { putInto } from './common';
import type { RopeArgs } from './rope';

/** The rope's sizes and positions, as the kernel takes them (positions on the CPU). */
export type RopeDimsRef = Omit<RopeArgs<unknown, ArrayLike<number>>, 'out' | 'x' | 'pair'>;

function position(p: RopeDimsRef, b: number, t: number): number {
  return p.positions ? p.positions[b * p.T + t] : (p.posOffset ?? 0) + t;
}

/** Rotates every pair by its angle (or by minus it when `inverse`). */
export function ropeRef(x: ArrayLike<number>, p: RopeDimsRef): Float64Array {
  const { B, T, H, D, theta } = p;
  const half = D / 2;
  const sign = p.inverse ? -1 : 1;
  const out = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const pos = position(p, b, t);
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * D;
        for (let j = 0; j < half; j++) {
          const a = pos * theta ** ((-2 * j) / D);
          const cs = Math.cos(a);
          const sn = sign * Math.sin(a);
          const x1 = x[o + j];
          const x2 = x[o + j + half];
          out[o + j] = x1 * cs - x2 * sn;
          out[o + j + half] = x2 * cs + x1 * sn;
        }
      }
    }
  }
  return out;
}

/** Gradient of Σ dOut·ropeRef(x) with respect to x: the transposed rotation, written out as such (so a
 * test can check that it equals the inverse rotation the GPU backward uses). */
export function ropeBackwardRef(dOut: ArrayLike<number>, p: RopeDimsRef): Float64Array {
  const { B, T, H, D, theta } = p;
  const half = D / 2;
  const sign = p.inverse ? -1 : 1;
  const dx = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const pos = position(p, b, t);
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * D;
        for (let j = 0; j < half; j++) {
          const a = pos * theta ** ((-2 * j) / D);
          const cs = Math.cos(a);
          const sn = sign * Math.sin(a);
          // [out1; out2] = [[cs, −sn], [sn, cs]]·[x1; x2], so dx = that matrix transposed times dOut.
          const d1 = dOut[o + j];
          const d2 = dOut[o + j + half];
          dx[o + j] = cs * d1 + sn * d2;
          dx[o + j + half] = -sn * d1 + cs * d2;
        }
      }
    }
  }
  return dx;
}

/** The twin of rope(), its pair (batch items strideB apart) included. */
export function ropeTwin(p: RopeArgs<Float64Array, Int32Array>): void {
  const { pair, ...dims } = p;
  putInto(p.out, ropeRef(p.x, dims));
  if (!pair) return;
  const { B, T, D } = p;
  const item = T * pair.H * D;
  const stride = pair.strideB ?? item;
  for (let b = 0; b < B; b++) {
    const xs = pair.x.subarray(b * stride, b * stride + item);
    const pos = p.positions ? p.positions.subarray(b * T, (b + 1) * T) : undefined;
    const y = ropeRef(xs, { ...dims, B: 1, H: pair.H, positions: pos });
    pair.out.set(y, b * stride);
  }
}
