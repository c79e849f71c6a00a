// CPU float64 twin of copy2d: writes into `out` in place, as the kernel does.

import type { Copy2dArgs } from './copy2d';
export function copy2dRef(
  out: Float64Array,
  x: ArrayLike<number>,
  a: Omit<Copy2dArgs<unknown>, 'out' | 'x'>,
): void {
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < a.cols; c++) {
      const d = a.dstOffset + r * a.dstStride + c;
      const s = x[a.srcOffset + r * a.srcStride + c];
      out[d] = a.accumulate ? out[d] + s : s;
    }
  }
}

/** The twin of copy2d(). */
export function copy2dTwin(p: Copy2dArgs<Float64Array>): void {
  copy2dRef(p.out, p.x, p);
}
