// CPU float64 twin of add.

import type { AddArgs, AddInPlaceArgs } from './add';
export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** The twin of add(). */
export function addTwin(p: AddArgs<Float64Array>): void {
  for (let i = 0; i < p.n; i++) p.out[i] = p.a[i] + p.b[i];
}

/** The twin of addInPlace(). */
export function addInPlaceTwin(p: AddInPlaceArgs<Float64Array>): void {
  for (let i = 0; i < p.n; i++) p.a[i] += p.b[i];
}
