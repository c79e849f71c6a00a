// CPU float64 twin of copy2d: writes into `out` in place, as the kernel does.
export function copy2dRef(
  out: Float64Array,
  x: ArrayLike<number>,
  a: {
    rows: number;
    cols: number;
    srcStride: number;
    srcOffset: number;
    dstStride: number;
    dstOffset: number;
    accumulate?: boolean;
  },
): void {
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < a.cols; c++) {
      const d = a.dstOffset + r * a.dstStride + c;
      const s = x[a.srcOffset + r * a.srcStride + c];
      out[d] = a.accumulate ? out[d] + s : s;
    }
  }
}
