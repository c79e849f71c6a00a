// WGSL for elementwise add (residual connections): out = a + b, and the in-place accumulate a += b.
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export const addWgsl = (inPlace: boolean) => `
struct P { n: u32 };
@group(0) @binding(0) var<storage, ${inPlace ? 'read_write' : 'read'}> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
${inPlace ? '@group(0) @binding(2) var<uniform> p: P;' : '@group(0) @binding(2) var<storage, read_write> out: array<f32>;\n@group(0) @binding(3) var<uniform> p: P;'}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  ${inPlace ? 'a[i] = a[i] + b[i];' : 'out[i] = a[i] + b[i];'}
}`;
