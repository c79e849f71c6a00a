// WGSL for a strided 2-D copy (or accumulate): slicing column blocks out of fused projections (GPT-2's
// c_attn) and writing their gradients back, without transposes.
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export const copy2dWgsl = (accumulate: boolean) => `
struct P { rows: u32, cols: u32, srcStride: u32, srcOffset: u32, dstStride: u32, dstOffset: u32 };
@group(0) @binding(0) var<storage, read_write> dst: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  let c = i % p.cols;
  let d = p.dstOffset + r * p.dstStride + c;
  let s = src[p.srcOffset + r * p.srcStride + c];
  ${accumulate ? 'dst[d] = dst[d] + s;' : 'dst[d] = s;'}
}`;
