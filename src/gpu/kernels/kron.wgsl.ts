// WGSL for the Kronecker product LoKr builds its weight update from: out = alpha·(a ⊗ b) with a [a0, a1],
// b [b0, b1], out [a0·b0, a1·b1] (optionally written transposed, for GPT-2's [in, out] weights), and its
// two gradients, each a sum over the blocks by one thread per output element (fixed order, no atomics).
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

const DIMS = 'a0: u32, a1: u32, b0: u32, b1: u32, alpha: f32, flag: u32, acc: u32';

export const kronWgsl = (L: KernelLayout) => `
struct P { ${DIMS} };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  let R = p.a0 * p.b0;
  let C = p.a1 * p.b1;
  if (i >= R * C) { return; }
  let o = i / C;
  let c = i % C;
  let v = p.alpha * ${L.id.a}[(o / p.b0) * p.a1 + c / p.b1] * ${L.id.b}[(o % p.b0) * p.b1 + c % p.b1];
  let dst = select(i, c * R + o, p.flag != 0u);
  if (p.acc != 0u) { ${L.id.out}[dst] = ${L.id.out}[dst] + v; } else { ${L.id.out}[dst] = v; }
}`;

/**
 * Gradient of one factor: for the left factor (flag 0) da[p,q] = alpha·Σ_{k,l} G[p·b0+k, q·b1+l]·b[k,l];
 * for the right (flag 1) db[k,l] = alpha·Σ_{p,q} G[p·b0+k, q·b1+l]·a[p,q]. "other" is the factor not
 * being differentiated, "d" the gradient written.
 */
export const kronGradWgsl = (L: KernelLayout) => `
struct P { ${DIMS} };
${L.decls('P')}
@compute @workgroup_size(64)
fn main(${FLAT_BUILTINS}) {
  let t = ${FLAT_INDEX(64)};
  let C = p.a1 * p.b1;
  let left = p.flag == 0u;
  let rowsOut = select(p.b0, p.a0, left);
  let colsOut = select(p.b1, p.a1, left);
  if (t >= rowsOut * colsOut) { return; }
  let u = t / colsOut;
  let w = t % colsOut;
  let n0 = select(p.a0, p.b0, left);
  let n1 = select(p.a1, p.b1, left);
  var s = 0.0;
  for (var j0 = 0u; j0 < n0; j0++) {
    for (var j1 = 0u; j1 < n1; j1++) {
      // left: (p, q) = (u, w), (k, l) = (j0, j1); right: (p, q) = (j0, j1), (k, l) = (u, w).
      let r = select(j0 * p.b0 + u, u * p.b0 + j0, left);
      let c = select(j1 * p.b1 + w, w * p.b1 + j1, left);
      s += ${L.id.g}[r * C + c] * ${L.id.other}[j0 * n1 + j1];
    }
  }
  let v = p.alpha * s;
  if (p.acc != 0u) { ${L.id.d}[t] = ${L.id.d}[t] + v; } else { ${L.id.d}[t] = v; }
}`;
