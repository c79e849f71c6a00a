// CPU twins of dropout.ts. The mask is the GPU's bit for bit: the same 32-bit hash written with
// Math.imul and >>> 0 (see DROPOUT_HASH in dropout.wgsl.ts; change both together).

import { putInto } from './common';
import type { DropoutArgs, DropoutBackwardArgs } from './dropout';
import { dropoutScale, dropoutThreshold } from './dropout.wgsl';

function mix32(x0: number): number {
  let x = x0 >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The 24 uniform bits element i's keep decision is made from. */
export function dropoutBitsRef(seed: number, stream: number, i: number): number {
  const key = mix32((seed >>> 0) ^ mix32((stream >>> 0) ^ 0x9e3779b9));
  return ((mix32(mix32((i >>> 0) ^ key) + key) >>> 0) >>> 8) >>> 0;
}

/** 1 where element i is kept, 0 where dropped. */
export function dropoutMaskRef(n: number, p: number, seed: number, stream: number): Uint8Array {
  const threshold = dropoutThreshold(p);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = dropoutBitsRef(seed, stream, i) >= threshold ? 1 : 0;
  return mask;
}

/** x·mask/(1−p) in float64. */
export function dropoutRef(x: ArrayLike<number>, p: number, seed: number, stream: number): Float64Array {
  const mask = dropoutMaskRef(x.length, p, seed, stream);
  const s = dropoutScale(p);
  return Float64Array.from(x, (v, i) => (mask[i] ? v * s : 0));
}

/** dOut·mask/(1−p): dropout is linear in x, so its backward is the same masked scaling. */
export function dropoutBackwardRef(
  dOut: ArrayLike<number>,
  p: number,
  seed: number,
  stream: number,
): Float64Array {
  return dropoutRef(dOut, p, seed, stream);
}

/** The twin of dropout(). */
export function dropoutTwin(p: DropoutArgs<Float64Array>): void {
  putInto(p.out, dropoutRef(p.x.subarray(0, p.n), p.p, p.seed, p.stream));
}

/** The twin of dropoutBackward(). */
export function dropoutBackwardTwin(p: DropoutBackwardArgs<Float64Array>): void {
  putInto(p.dx, dropoutBackwardRef(p.dOut.subarray(0, p.n), p.p, p.seed, p.stream), p.accumulate);
}
